/**
 * A bare MQTT.js subscriber in a process of its own, where the gateway would be: QoS 1 on the same shared
 * subscription, PUBACK at once, no other work. Measures the broker hop alone (publish → delivery) for the bench.
 * Started with fork(); talks to the bench over IPC.
 */
import mqtt from 'mqtt';
import { LatencyHistogram } from './latency-histogram.ts';
import { preciseNow, sentAtOf } from './telemetry-load.ts';

export type ToSubscriber =
  { type: 'window'; from: number; to: number } | { type: 'report' } | { type: 'stop' };
export type FromSubscriber =
  | { type: 'ready' }
  | { type: 'delivered'; count: number }
  | { type: 'report'; latency: ReturnType<LatencyHistogram['summary']> };

const [url, filter, clientId] = process.argv.slice(2) as [string, string, string];
const send = (message: FromSubscriber) => process.connected && process.send!(message);
// The bench is gone (crashed, interrupted): nobody is left to read the measurements.
process.on('disconnect', () => process.exit(0));

let delivered = 0;
let window = { from: Number.POSITIVE_INFINITY, to: Number.POSITIVE_INFINITY };
let latency = new LatencyHistogram();

const client = await mqtt.connectAsync(url, {
  protocolVersion: 5,
  clientId,
  clean: true,
  reconnectPeriod: 0,
});
client.on('message', (_topic, payload) => {
  const receivedAt = preciseNow();
  delivered++;
  const sentAt = sentAtOf(payload.toString('latin1'));
  if (sentAt >= window.from && sentAt < window.to) latency.record(receivedAt - sentAt);
});
await client.subscribeAsync(filter, { qos: 1 });
const progress = setInterval(() => send({ type: 'delivered', count: delivered }), 50);

process.on('message', (message: ToSubscriber) => {
  switch (message.type) {
    case 'window':
      window = { from: message.from, to: message.to };
      latency = new LatencyHistogram();
      return;
    case 'report':
      send({ type: 'report', latency: latency.summary() });
      return;
    case 'stop':
      clearInterval(progress);
      void client.endAsync().then(() => process.disconnect());
  }
});
send({ type: 'ready' });
