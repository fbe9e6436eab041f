import mqtt, { type IPublishPacket, type MqttClient } from 'mqtt';

export interface AcknowledgingSubscriberOptions {
  url: string;
  clientId: string;
  /** Members of one share group split the messages between them (MQTT v5 shared subscription). */
  shareGroup: string;
  topicFilter: string;
  /** Messages the broker may have in flight to us unacknowledged: our memory bound and backpressure. */
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
  private awaiting: AwaitingAck[] = [];
  private unsettled = new Set<Promise<void>>();

  constructor(
    private readonly options: AcknowledgingSubscriberOptions,
    private readonly handle: MessageHandler,
  ) {}

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  get inFlight(): number {
    return this.awaiting.length;
  }

  async start(): Promise<void> {
    const client = mqtt.connect(this.options.url, {
      protocolVersion: 5,
      clientId: this.options.clientId,
      clean: false,
      reconnectPeriod: 1_000,
      properties: {
        sessionExpiryInterval: this.options.sessionExpirySeconds,
        receiveMaximum: this.options.receiveMaximum,
      },
    });
    this.client = client;
    client.on('connect', () => {
      this.connection += 1;
      this.awaiting = [];
    });
    client.handleMessage = (packet, moveOn) => {
      this.receive(packet);
      moveOn(deferAcknowledgement);
    };
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    await client.subscribeAsync(`$share/${this.options.shareGroup}/${this.options.topicFilter}`, { qos: 1 });
  }

  /** Stops taking messages, waits for those in hand to be settled and acknowledged, then disconnects. */
  async stop(): Promise<void> {
    const client = this.client;
    if (!client) return;
    client.handleMessage = (_packet, moveOn) => moveOn(deferAcknowledgement);
    await Promise.allSettled([...this.unsettled]);
    await client.endAsync();
  }

  private receive(packet: IPublishPacket): void {
    if (packet.qos === 0 || packet.messageId === undefined) {
      this.track(this.handle(packet.topic, packet.payload as Buffer));
      return;
    }
    const entry: AwaitingAck = { messageId: packet.messageId, connection: this.connection, handled: false };
    this.awaiting.push(entry);
    this.track(
      this.handle(packet.topic, packet.payload as Buffer).then(() => {
        entry.handled = true;
        this.acknowledgeInOrder();
      }),
    );
  }

  private track(settling: Promise<void>): void {
    const tracked = settling.catch(() => undefined).finally(() => this.unsettled.delete(tracked));
    this.unsettled.add(tracked);
  }

  private acknowledgeInOrder(): void {
    while (this.awaiting[0]?.handled) {
      const { messageId, connection } = this.awaiting.shift()!;
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
