import { connect, type Socket } from 'node:net';

/**
 * The publishing half of an MQTT v5 client, QoS 1 only: CONNECT, PUBLISH, PUBACK, DISCONNECT. The bench's
 * publishers share the machine with what they measure, and MQTT.js spends about 25 µs of CPU per publish (half a
 * core at 20,000 msg/s); this spends a few, which leaves that CPU to the broker and the gateway, as devices on their
 * own hardware would. Packets written in one tick go out in one write.
 */
export class LeanMqttPublisher {
  private readonly socket: Socket;
  private readonly onAcknowledged = new Map<number, Acknowledged>();
  private nextPacketId = 1;
  private pending: Buffer[] = [];
  private received: Buffer = Buffer.alloc(0);
  private onConnack: (reasonCode: number) => void = () => undefined;
  private closing = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.read(chunk));
    socket.on('close', () => this.failOutstanding(new Error('connection closed before PUBACK')));
    socket.on('error', (error) => this.failOutstanding(error));
  }

  static async connect(url: string, clientId: string): Promise<LeanMqttPublisher> {
    const { hostname, port } = new URL(url);
    const socket = connect({ host: hostname, port: Number(port || 1883) });
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const publisher = new LeanMqttPublisher(socket);
    const id = Buffer.from(clientId);
    const variableHeader = Buffer.from([0, 4, 0x4d, 0x51, 0x54, 0x54, 5, 0x02, 0, 0, 0]); // MQTT v5, clean start, no keep-alive, no properties
    const body = Buffer.concat([variableHeader, uint16(id.length), id]);
    const accepted = new Promise<void>((resolve, reject) => {
      publisher.onConnack = (reasonCode) =>
        reasonCode === 0 ? resolve() : reject(new Error(`CONNACK reason code ${reasonCode}`));
    });
    socket.write(Buffer.concat([Buffer.from([0x10]), remainingLength(body.length), body]));
    await accepted;
    return publisher;
  }

  /** Calls `acknowledged` when the broker's PUBACK arrives; at most 65,535 may be outstanding. */
  publish(topic: string, payload: string, acknowledged: Acknowledged): void {
    const packetId = this.nextPacketId;
    this.nextPacketId = packetId === 0xffff ? 1 : packetId + 1;
    if (this.onAcknowledged.has(packetId)) throw new Error('more than 65,535 publishes awaiting PUBACK');
    this.onAcknowledged.set(packetId, acknowledged);
    const topicLength = Buffer.byteLength(topic);
    const payloadLength = Buffer.byteLength(payload);
    const bodyLength = 2 + topicLength + 2 + 1 + payloadLength;
    const header = remainingLength(bodyLength);
    const packet = Buffer.allocUnsafe(1 + header.length + bodyLength);
    let offset = packet.writeUInt8(0x32, 0); // PUBLISH, QoS 1
    offset += header.copy(packet, offset);
    offset = packet.writeUInt16BE(topicLength, offset);
    offset += packet.write(topic, offset);
    offset = packet.writeUInt16BE(packetId, offset);
    offset = packet.writeUInt8(0, offset); // no properties
    packet.write(payload, offset);
    if (this.pending.push(packet) === 1) setImmediate(() => this.flush());
  }

  async close(): Promise<void> {
    this.closing = true;
    this.flush();
    this.socket.end(Buffer.from([0xe0, 0]));
    await new Promise((resolve) => this.socket.once('close', resolve));
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    this.socket.write(Buffer.concat(this.pending));
    this.pending = [];
  }

  private read(chunk: Buffer): void {
    let data = this.received.length > 0 ? Buffer.concat([this.received, chunk]) : chunk;
    for (;;) {
      const frame = parseFrame(data);
      if (!frame) break;
      const { type, body, next } = frame;
      if (type === 0x40) this.acknowledge(body.readUInt16BE(0));
      else if (type === 0x20) this.onConnack(body[1]!);
      else if (type === 0xe0)
        this.socket.destroy(new Error(`the broker disconnected, reason code ${body[0] ?? 0}`));
      else throw new Error(`unexpected MQTT packet type 0x${type.toString(16)}`);
      data = data.subarray(next);
    }
    this.received = data;
  }

  private acknowledge(packetId: number): void {
    const acknowledged = this.onAcknowledged.get(packetId);
    this.onAcknowledged.delete(packetId);
    acknowledged?.();
  }

  private failOutstanding(error: Error): void {
    if (this.closing && this.onAcknowledged.size === 0) return;
    for (const acknowledged of this.onAcknowledged.values()) acknowledged(error);
    this.onAcknowledged.clear();
  }
}

type Acknowledged = (error?: Error) => void;

function uint16(value: number): Buffer {
  const buffer = Buffer.allocUnsafe(2);
  buffer.writeUInt16BE(value);
  return buffer;
}

function remainingLength(length: number): Buffer {
  const bytes: number[] = [];
  do {
    let byte = length % 128;
    length = Math.floor(length / 128);
    if (length > 0) byte |= 0x80;
    bytes.push(byte);
  } while (length > 0);
  return Buffer.from(bytes);
}

/** One whole packet at the start of `data`, or undefined while it is still incomplete. */
function parseFrame(data: Buffer): { type: number; body: Buffer; next: number } | undefined {
  let length = 0;
  let multiplier = 1;
  let offset = 1;
  for (;;) {
    if (offset >= data.length) return undefined;
    const byte = data[offset++]!;
    length += (byte & 0x7f) * multiplier;
    multiplier *= 128;
    if ((byte & 0x80) === 0) break;
  }
  if (data.length < offset + length) return undefined;
  return { type: data[0]! & 0xf0, body: data.subarray(offset, offset + length), next: offset + length };
}
