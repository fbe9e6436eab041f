/**
 * An alert storm at one webhook target: the built notifier alone on the local stack, its target a receiver in this
 * process. A storm of `vehicle-offline` alerts (a fleet whose vehicles all went silent at once, the storm the end-to-end
 * bench's earlier steps cause ten minutes after they end) is appended to fleet.alerts in one go, while an `overspeed`
 * alert of another vehicle follows every 100 ms. Measured per in-flight limit: how long the target takes to receive
 * the whole storm (first append → last webhook), so the drain rate; how late the other rule's webhooks are meanwhile
 * (append → received); the notifier's cores. Nothing between an alert and its webhook is mocked: the fan-out's
 * transaction, the delivery worker, the signed HTTP request, the outcome written back, the delivery log.
 *
 * Run after `npm run build`: node --disable-warning=TimeoutNegativeWarning bench/webhooks.bench.ts
 * BENCH_WEBHOOKS_STORM (alerts, default 5000), BENCH_WEBHOOKS_IN_FLIGHT (limits to measure, default "4,32").
 */
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Producer } from 'kafkajs';
import { topicNames, topicSpecs, type AlertMessage } from '../dist/libs/contracts/src/index.js';
import { recordIndexNames } from '../dist/libs/elasticsearch/src/index.js';
import { freePort, startApp, waitUntilReady } from '../tools/main/app-process.ts';
import { cleanUp } from './support/exit-cleanup.ts';
import { LatencyHistogram, type LatencySummary } from './support/latency-histogram.ts';
import { coresUsed, sampleUsage } from './support/process-usage.ts';
import { machineDescription, writeReport } from './support/report.ts';
import { stackClients } from './support/stack-clients.ts';
import { startWebhookReceiver } from './support/webhook-receiver.ts';

const stormSize = Number(process.env.BENCH_WEBHOOKS_STORM ?? 5_000);
const inFlightLimits = (process.env.BENCH_WEBHOOKS_IN_FLIGHT ?? '4,32').split(',').map(Number);
const probeIntervalMs = 100;
const maxDrainMs = 10 * 60_000;
/** A small storm first, not measured: the notifier's code and connections warm. */
const warmUpStorm = 500;
const loadAtStart = loadavg();

const { endpoints, kafka, elasticsearch, admin } = await stackClients();

interface StormResult {
  maxInFlightPerTarget: number;
  stormAlerts: number;
  /** First storm alert appended → last storm webhook received. */
  drainSeconds: number;
  webhooksPerSecond: number;
  /** Another rule's alert appended → its webhook received, while the storm drains. */
  otherRuleLatency: LatencySummary;
  notifierCores: number;
}

/** The target: webhooks received, by alert id, with the time each arrived. */
class Receiver {
  private stopServer: (() => Promise<void>) | undefined;
  private readonly waiting = new Map<string, (arrivedAt: number) => void>();

  async start(): Promise<string> {
    const { url, stop } = await startWebhookReceiver('/storm', ({ body: { data } }) => {
      this.waiting.get(data.alertId)?.(performance.now());
      this.waiting.delete(data.alertId);
    });
    this.stopServer = stop;
    return url;
  }

  /** Resolves with the arrival time of the alert's first webhook. */
  arrivalOf(alertId: string): Promise<number> {
    return new Promise((resolve) => this.waiting.set(alertId, resolve));
  }

  async stop(): Promise<void> {
    await this.stopServer?.();
  }
}

function alert(ruleId: string, vehicleId: string, at: Date): AlertMessage {
  const raisedAt = at.toISOString();
  return {
    alertId: `${ruleId}-${vehicleId}-${randomBytes(4).toString('hex')}`,
    status: 'active',
    ruleId,
    ruleVersion: 1,
    ruleName: ruleId,
    severity: 'warning',
    vehicleId,
    fleetId: 'storm',
    message: `${vehicleId}: ${ruleId}`,
    startedAt: raisedAt,
    raisedAt,
    facts: { lastSeenAt: raisedAt, speedKph: 0 },
    lineage: [{ topic: 'fleet.telemetry', partition: 0, offset: '0' }],
  };
}

async function append(producer: Producer, topic: string, alerts: AlertMessage[]): Promise<void> {
  for (let start = 0; start < alerts.length; start += 500) {
    await producer.send({
      topic,
      acks: -1,
      messages: alerts
        .slice(start, start + 500)
        .map((message) => ({ key: message.alertId, value: JSON.stringify(message) })),
    });
  }
}

/** Appends a storm and, until its last webhook arrives, another rule's alert every 100 ms. */
async function storm(producer: Producer, receiver: Receiver, topic: string, size: number) {
  const now = new Date();
  const stormAlerts = Array.from({ length: size }, (_, index) =>
    alert('vehicle-offline', `v-${String(index).padStart(5, '0')}`, now),
  );
  const arrivals = Promise.all(stormAlerts.map(({ alertId }) => receiver.arrivalOf(alertId)));
  const startedAt = performance.now();
  await append(producer, topic, stormAlerts);
  let drained = false;
  const lastArrival = arrivals.then((times) => {
    drained = true;
    return Math.max(...times);
  });
  const otherRule = new LatencyHistogram();
  const probes: Array<Promise<void>> = [];
  for (let probe = 0; !drained; probe++) {
    if (performance.now() - startedAt > maxDrainMs)
      throw new Error(`storm not delivered in ${maxDrainMs / 1_000} s`);
    const message = alert('overspeed', `probe-${probe}`, new Date());
    const arrival = receiver.arrivalOf(message.alertId);
    const appendedAt = performance.now();
    await append(producer, topic, [message]);
    probes.push(arrival.then((arrivedAt) => otherRule.record(arrivedAt - appendedAt)));
    await sleep(probeIntervalMs);
  }
  const drainMs = (await lastArrival) - startedAt;
  await Promise.all(probes);
  return { drainMs, otherRule: otherRule.summary() };
}

async function measure(maxInFlightPerTarget: number): Promise<StormResult> {
  const namespace = `bench-webhooks-${randomBytes(3).toString('hex')}`;
  const topics = topicNames(namespace);
  await admin.createTopics({
    waitForLeaders: true,
    topics: (['alerts', 'webhookRetries'] as const).map((topic) => ({
      topic: topics[topic],
      numPartitions: topicSpecs[topic].numPartitions,
      replicationFactor: -1,
      configEntries: topicSpecs[topic].configEntries,
    })),
  });
  const receiver = new Receiver();
  const port = await freePort();
  const notifier = startApp(
    'notifier',
    {
      FLEETLOG_NAMESPACE: namespace,
      KAFKA_BROKERS: endpoints.kafkaBrokers,
      ELASTICSEARCH_URL: endpoints.elasticsearchUrl,
      HTTP_PORT: String(port),
      LOG_LEVEL: 'warn',
      WEBHOOK_URL: await receiver.start(),
      WEBHOOK_SECRET: `whsec_${randomBytes(24).toString('base64')}`,
      WEBHOOK_ALLOW_PRIVATE_NETWORK: 'true',
      WEBHOOK_MAX_IN_FLIGHT_PER_TARGET: String(maxInFlightPerTarget),
    },
    (line) => process.stdout.write(`  notifier: ${line}\n`),
  );
  const producer = kafka.producer({ idempotent: true });
  try {
    await waitUntilReady(notifier, `http://127.0.0.1:${port}/health`);
    await producer.connect();
    await storm(producer, receiver, topics.alerts, warmUpStorm);
    const pids = new Map([['notifier', notifier.child.pid!]]);
    const usageAtStart = sampleUsage(pids);
    const { drainMs, otherRule } = await storm(producer, receiver, topics.alerts, stormSize);
    const result: StormResult = {
      maxInFlightPerTarget,
      stormAlerts: stormSize,
      drainSeconds: Math.round(drainMs / 100) / 10,
      webhooksPerSecond: Math.round(stormSize / (drainMs / 1_000)),
      otherRuleLatency: otherRule,
      notifierCores: Math.round(coresUsed(usageAtStart, sampleUsage(pids)).notifier! * 100) / 100,
    };
    process.stdout.write(`  ${JSON.stringify(result)}\n`);
    return result;
  } finally {
    await producer.disconnect();
    await notifier.stop();
    await receiver.stop();
    await admin.deleteTopics({ topics: Object.values(topics) }).catch(() => undefined);
    for (const index of Object.values(recordIndexNames(namespace)))
      await elasticsearch.indices.delete({ index }, { ignore: [404] });
  }
}

const results: StormResult[] = [];
for (const limit of inFlightLimits) {
  process.stdout.write(`storm of ${stormSize} alerts, at most ${limit} in flight per target…\n`);
  results.push(await measure(limit));
}
await cleanUp();

const ms = (value: number) => (Number.isNaN(value) ? '–' : value.toFixed(0));
const header = [
  'in flight per target',
  'storm alerts',
  'drained in s',
  'webhooks/s',
  'other rule p50 / p99 / max ms',
  'notifier cores',
];
const rows = results.map((result) => [
  String(result.maxInFlightPerTarget),
  result.stormAlerts.toLocaleString('en-US'),
  result.drainSeconds.toFixed(1),
  result.webhooksPerSecond.toLocaleString('en-US'),
  `${ms(result.otherRuleLatency.p50Ms)} / ${ms(result.otherRuleLatency.p99Ms)} / ${ms(result.otherRuleLatency.maxMs)}`,
  result.notifierCores.toFixed(2),
]);
process.stdout.write(
  `\n${[header, header.map(() => '---'), ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n')}\n\n`,
);
writeReport('webhooks', { machine: machineDescription(loadAtStart), results });
