import mqtt, { type IPublishPacket, type ISubscriptionMap, type MqttClient } from 'mqtt';

export interface AcknowledgingSubscriberOptions {
  url: string;
  clientId: string;
  /** Members of one share group split the messages between them (MQTT v5 shared subscription); none: a plain one. */
  shareGroup: string | undefined;
  topicFilter: string;
  /**
   * Messages the broker may have in flight to us unacknowledged (MQTT v5 Receive Maximum). Mosquitto 2.0.11 honours
   * it only for the first window, so it is a request to the broker, not a memory bound.
   */
  receiveMaximum: number;
  /** How long the broker keeps our session, and the messages we have not acknowledged, while we are away. */
  sessionExpirySeconds: number;
}

/** Settles when the message has been handed on durably; rejects to leave it unacknowledged. */
export type MessageHandler = (topic: string, payload: Buffer) => Promise<void>;

interface AwaitingAck {
  messageId: number;
  connection: number;
  handled: boolean;
  next: AwaitingAck | undefined;
}

/** Passed to MQTT.js instead of acknowledging at once: it moves on to the next message without sending a PUBACK. */
const deferAcknowledgement = new Error('PUBACK deferred until the message is handled');

/**
 * Subscribes at QoS 1 and sends each PUBACK only after the handler has settled the message, without handling
 * messages one at a time: MQTT.js hands publishes over strictly in sequence and acknowledges when the callback runs,
 * so we let it move on and send the PUBACK ourselves later. PUBACKs go out in the order the messages arrived (the
 * MQTT ordering rule). Acknowledgements owed on a connection that has since dropped are never sent: the broker
 * redelivers those messages on the new connection (at-least-once).
 */
export class AcknowledgingSubscriber {
  private client: MqttClient | undefined;
  private connection = 0;
  /**
   * Arrival order, as a linked list: Array.prototype.shift copies the whole array once it holds more than about
   * 10,000 entries (measured on Node 24), which a full receive window reaches, and then cost a quarter of the
   * gateway's CPU.
   */
  private oldestAwaiting: AwaitingAck | undefined;
  private newestAwaiting: AwaitingAck | undefined;
  private awaitingCount = 0;
  /** Handlers not yet settled, counted rather than kept as promises: stop() only needs to know when none are left. */
  private unsettled = 0;
  private allSettled: (() => void) | undefined;

  constructor(
    private readonly options: AcknowledgingSubscriberOptions,
    private readonly handle: MessageHandler,
  ) {}

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  get inFlight(): number {
    return this.awaitingCount;
  }

  async start(): Promise<void> {
    const client = mqtt.connect(this.options.url, {
      protocolVersion: 5,
      clientId: this.options.clientId,
      clean: false,
      reconnectPeriod: 1_000,
      // MQTT.js logs every packet through `debug` unless given a logger: a few percent of the gateway's CPU.
      log: () => undefined,
      properties: {
        sessionExpiryInterval: this.options.sessionExpirySeconds,
        receiveMaximum: this.options.receiveMaximum,
      },
    });
    this.client = client;
    client.on('connect', () => {
      this.connection += 1;
      this.oldestAwaiting = this.newestAwaiting = undefined;
      this.awaitingCount = 0;
      // MQTT.js subscribes again only when the broker says it kept no session. Mosquitto 2.0.11 restarted from its
      // persistence file reports the session as kept but has lost a shared subscription (a plain one it keeps):
      // without this the gateway would sit connected while devices' messages, acknowledged by the broker, went to
      // no one. A failure means the connection dropped again, and the next connect subscribes again.
      if (this.connection > 1) client.subscribeAsync(this.resubscription()).catch(() => undefined);
    });
    client.handleMessage = (packet, moveOn) => {
      this.receive(packet);
      moveOn(deferAcknowledgement);
    };
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    await client.subscribeAsync(this.subscription(), { qos: 1 });
  }

  private subscription(): string {
    const { shareGroup, topicFilter } = this.options;
    return shareGroup ? `$share/${shareGroup}/${topicFilter}` : topicFilter;
  }

  /** Flagged `resubscribe`: MQTT.js otherwise sends nothing for a topic it believes subscribed. */
  private resubscription(): ISubscriptionMap {
    const map = { [this.subscription()]: { qos: 1 } } as ISubscriptionMap;
    map.resubscribe = true;
    return map;
  }

  /** Stops taking messages, waits for those in hand to be settled and acknowledged, then disconnects. */
  async stop(): Promise<void> {
    const client = this.client;
    if (!client) return;
    client.handleMessage = (_packet, moveOn) => moveOn(deferAcknowledgement);
    if (this.unsettled > 0) await new Promise<void>((resolve) => (this.allSettled = resolve));
    await client.endAsync();
  }

  private receive(packet: IPublishPacket): void {
    this.unsettled++;
    if (packet.qos === 0 || packet.messageId === undefined) {
      this.handle(packet.topic, packet.payload as Buffer).then(this.settled, this.settled);
      return;
    }
    const entry: AwaitingAck = {
      messageId: packet.messageId,
      connection: this.connection,
      handled: false,
      next: undefined,
    };
    if (this.newestAwaiting) this.newestAwaiting.next = entry;
    else this.oldestAwaiting = entry;
    this.newestAwaiting = entry;
    this.awaitingCount++;
    this.handle(packet.topic, packet.payload as Buffer).then(() => {
      try {
        entry.handled = true;
        this.acknowledgeInOrder();
      } finally {
        this.settled();
      }
    }, this.settled);
  }

  /** One callback per message, no promise chain: the subscriber handles tens of thousands of messages a second. */
  private readonly settled = (): void => {
    this.unsettled--;
    if (this.unsettled === 0) this.allSettled?.();
  };

  private acknowledgeInOrder(): void {
    while (this.oldestAwaiting?.handled) {
      const { messageId, connection, next } = this.oldestAwaiting;
      this.oldestAwaiting = next;
      if (!next) this.newestAwaiting = undefined;
      this.awaitingCount--;
      if (connection === this.connection && this.client?.connected) sendPuback(this.client, messageId);
    }
  }
}

/** MQTT.js has no public call for a PUBACK on its own; its packet writer is the one it uses itself. */
function sendPuback(client: MqttClient, messageId: number): void {
  (client as unknown as { _sendPacket(packet: object, callback: () => void): void })._sendPacket(
    { cmd: 'puback', messageId, reasonCode: 0 },
    () => undefined,
  );
}
