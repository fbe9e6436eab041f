/**
 * The gateway's sustained forwarding rate at QoS 1 into Kafka and the latency it adds, on this machine: the built
 * gateway as its own process, the local stack's Kafka, a Mosquitto of the bench's own with the stack's
 * configuration, and MQTT v5 publishers in this process. First the broker hop alone (a bare MQTT.js subscriber
 * where the gateway would be), then the gateway, at the same paced rates and unpaced.
 * Run after `npm run build`: node --disable-warning=TimeoutNegativeWarning bench/gateway.bench.ts
 * BENCH_RATES (default 5000,10000,20000,30000,max) and BENCH_SECONDS (default 20) change the gateway steps.
 * Method, figures and caveats: docs/benchmarks.md.
 */
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { topicNames, topicSpecs } from '../dist/libs/contracts/src/index.js';
import { freePort, startApp, waitUntilReady, type AppProcess } from '../tools/main/app-process.ts';
import { stackOptionsFromEnv, stackStatus, stackUp } from '../tools/stack/local-stack.ts';
import type { FromSubscriber, ToSubscriber } from './support/bare-subscriber.ts';
import { machineDescription, writeReport } from './support/report.ts';
import { ackQuantileMs, scrapeGateway, type GatewayMetrics } from './support/gateway-metrics.ts';
import {
  appendLatencies,
  createLogAppendTimeTopic,
  recordCount,
  type SendWindow,
} from './support/kafka-log.ts';
import { abort, abortOnFailure, cleanUp, stopAtExit } from './support/exit-cleanup.ts';
import type { LatencySummary } from './support/latency-histogram.ts';
import { startPrivateMosquitto } from './support/private-mosquitto.ts';
import { coresUsed, referenceWorkMicroseconds, residentMiB, sampleUsage } from './support/process-usage.ts';
import {
  LoadPublisher,
  preciseNow,
  type DeliveredCount,
  type LoadOptions,
} from './support/telemetry-load.ts';

type Target = number | 'max';
const targets: Target[] = (process.env.BENCH_RATES ?? '5000,10000,20000,30000,max')
  .split(',')
  .map((rate) => (rate === 'max' ? 'max' : Number(rate)));
const gatewaySeconds = Number(process.env.BENCH_SECONDS ?? 20);
if (targets.some((target) => target !== 'max' && !(target > 0)) || !(gatewaySeconds > 0)) {
  throw new Error(
    'BENCH_RATES is a comma-separated list of msg/s and "max"; BENCH_SECONDS a number of seconds',
  );
}
const gatewayWarmUpSeconds = 3;
/** The first step also warms up a gateway that has just started: compiling its hot path, its first produce requests. */
const gatewayStartWarmUpSeconds = 8;
const brokerSeconds = 6;
const brokerWarmUpSeconds = 2;
const drainTimeoutMs = 15_000;
/** The planned steps plus a margin for starting, draining and reading back: 235 s with the defaults. */
const timeLimitMs =
  (targets.length * (brokerWarmUpSeconds + brokerSeconds + gatewayWarmUpSeconds + gatewaySeconds) +
    (gatewayStartWarmUpSeconds - gatewayWarmUpSeconds) +
    75) *
  1000;
const load: Omit<LoadOptions, 'mqttUrl' | 'clientIdPrefix' | 'fleetId'> = {
  connections: 4,
  vehicles: 2_000,
  maxUnacknowledgedPerConnection: 1_000,
  maxBacklog: 20_000,
};

interface StepResult {
  target: Target;
  seconds: number;
  sentPerSecond: number;
  deliveredPerSecond: number;
  /** Publish → subscriber receipt (broker phase) or publish → Kafka append (gateway phase). */
  latencyMs: LatencySummary;
  /** The gateway's own histogram: MQTT receipt → Kafka acknowledgement. */
  gatewayAckMs?: { p50: number; p99: number };
  cores: Record<string, number>;
  rssMiB: Record<string, number>;
  /** Sent but not delivered when the drain after the step gave up. */
  undrained: number;
  /** referenceWorkMicroseconds() just before and just after the step: how fast the shared machine was. */
  referenceMicroseconds: { before: number; after: number };
}

interface Probe {
  pids: Map<string, number>;
  /** The latest count seen at the far end, cheap enough for the publisher's every tick. */
  delivered: DeliveredCount;
  countDelivered(): Promise<number>;
  startWindow(window: SendWindow): void;
  scrape?(): Promise<GatewayMetrics>;
}

/** A step before its latency is known: that is read from the far end afterwards, for the messages sent in `window`. */
interface Measured {
  result: Omit<StepResult, 'latencyMs'>;
  window: SendWindow;
}

/** What the rest of the machine used (other people's processes, Elasticsearch, the kernel): a noisy neighbour shows. */
function withOtherProcesses(cores: Record<string, number>): Record<string, number> {
  const measured = Object.entries(cores).filter(([name]) => name !== 'machine');
  return { ...cores, other: cores.machine! - measured.reduce((sum, [, used]) => sum + used, 0) };
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** One rate: warm up, measure over a window, stop publishing, wait until everything sent has arrived. */
async function runStep(
  publisher: LoadPublisher,
  probe: Probe,
  target: Target,
  warmUpSeconds: number,
  seconds: number,
): Promise<Measured> {
  const referenceBefore = referenceWorkMicroseconds();
  const from = preciseNow() + warmUpSeconds * 1000;
  const window = { from, to: from + seconds * 1000 };
  probe.startWindow(window);
  publisher.start(target === 'max' ? undefined : target, probe.delivered);
  const snapshot = async () => ({
    sent: publisher.sent,
    delivered: await probe.countDelivered(),
    usage: sampleUsage(probe.pids),
    metrics: await probe.scrape?.(),
  });
  await sleep(window.from - preciseNow());
  const start = await snapshot();
  await sleep(window.to - preciseNow());
  const end = await snapshot();
  const rssMiB = Object.fromEntries([...probe.pids].map(([name, pid]) => [name, residentMiB(pid)]));
  await publisher.pause();
  const drainDeadline = Date.now() + drainTimeoutMs;
  let delivered = await probe.countDelivered();
  while (delivered < publisher.sent && Date.now() < drainDeadline) {
    await sleep(100);
    delivered = await probe.countDelivered();
  }
  const elapsedSeconds = (end.usage.at - start.usage.at) / 1000;
  const result: Measured['result'] = {
    target,
    seconds: elapsedSeconds,
    sentPerSecond: (end.sent - start.sent) / elapsedSeconds,
    deliveredPerSecond: (end.delivered - start.delivered) / elapsedSeconds,
    cores: withOtherProcesses(coresUsed(start.usage, end.usage)),
    rssMiB,
    undrained: Math.max(0, publisher.sent - delivered),
    referenceMicroseconds: { before: referenceBefore, after: referenceWorkMicroseconds() },
  };
  if (start.metrics && end.metrics) {
    result.gatewayAckMs = {
      p50: ackQuantileMs(start.metrics, end.metrics, 0.5),
      p99: ackQuantileMs(start.metrics, end.metrics, 0.99),
    };
  }
  log(
    `  ${String(target).padStart(6)}: sent ${Math.round(result.sentPerSecond)}/s, delivered ` +
      `${Math.round(result.deliveredPerSecond)}/s, machine ${result.cores.machine!.toFixed(2)} cores`,
  );
  return { result, window };
}

/** The broker hop alone: publishers → Mosquitto → a bare subscriber process. */
async function measureBrokerHop(
  mqttUrl: string,
  mosquittoPid: number,
  namespace: string,
): Promise<StepResult[]> {
  const subscriber = fork(
    join(import.meta.dirname, 'support', 'bare-subscriber.ts'),
    [mqttUrl, `$share/${namespace}-bare/fleet/+/+/+`, `${namespace}-bare`],
    { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  );
  const exited = new Promise((resolve) => subscriber.once('exit', resolve));
  stopAtExit(async () => {
    subscriber.kill();
    await exited;
  });
  let delivered = 0;
  let reported: ((latency: LatencySummary) => void) | undefined;
  const ready = new Promise<void>((resolve) =>
    subscriber.on('message', (message: FromSubscriber) => {
      if (message.type === 'ready') resolve();
      else if (message.type === 'delivered') delivered = message.count;
      else reported?.(message.latency);
    }),
  );
  await Promise.race([ready, exited.then(() => Promise.reject(new Error('the bare subscriber exited')))]);
  const tell = (message: ToSubscriber) => subscriber.send(message);
  const publisher = await LoadPublisher.connect({
    ...load,
    mqttUrl,
    clientIdPrefix: `${namespace}-broker-load`,
    fleetId: namespace,
  });
  const probe: Probe = {
    pids: new Map([
      ['mosquitto', mosquittoPid],
      ['subscriber', subscriber.pid!],
      ['publishers', process.pid],
    ]),
    delivered: () => delivered,
    // The subscriber reports every 50 ms: waiting that long makes the count current.
    countDelivered: () => sleep(60).then(() => delivered),
    startWindow: (window) => tell({ type: 'window', ...window }),
  };
  const results: StepResult[] = [];
  for (const target of targets) {
    const { result } = await runStep(publisher, probe, target, brokerWarmUpSeconds, brokerSeconds);
    const latencyMs = await new Promise<LatencySummary>((resolve) => {
      reported = resolve;
      tell({ type: 'report' });
    });
    results.push({ ...result, latencyMs });
  }
  await publisher.close();
  tell({ type: 'stop' });
  await exited;
  return results;
}

interface GatewayRun {
  steps: StepResult[];
  sent: number;
  /** Publishes the broker refused or that failed with the connection. */
  failed: number;
  records: number;
  deadLetters: number;
  exitCode: number | null;
}

/** The gateway in the middle: publishers → Mosquitto → gateway → Kafka, latency read back from the log. */
async function measureGateway(
  mqttUrl: string,
  kafkaBrokers: string,
  pids: { mosquitto: number; kafka: number },
  namespace: string,
): Promise<GatewayRun> {
  const topics = topicNames(namespace);
  const kafka = new Kafka({
    clientId: `${namespace}-bench`,
    brokers: kafkaBrokers.split(','),
    logLevel: logLevel.ERROR,
  });
  const admin: Admin = kafka.admin();
  await admin.connect();
  stopAtExit(() => admin.disconnect());
  await createLogAppendTimeTopic(admin, topics.telemetry, topicSpecs.telemetry.numPartitions);
  stopAtExit(() => admin.deleteTopics({ topics: Object.values(topics) }));

  const port = await freePort();
  const output: string[] = [];
  const gateway: AppProcess = startApp(
    'gateway',
    {
      FLEETLOG_NAMESPACE: namespace,
      HTTP_PORT: String(port),
      KAFKA_BROKERS: kafkaBrokers,
      MQTT_URL: mqttUrl,
      MQTT_CLIENT_ID: `${namespace}-gateway`,
      LOG_LEVEL: 'warn',
    },
    (line) => output.push(line),
  );
  stopAtExit(() => gateway.stop());
  try {
    await waitUntilReady(gateway, `http://127.0.0.1:${port}/health`);
  } catch (error) {
    process.stderr.write(`${output.slice(-30).join('\n')}\n`);
    throw error;
  }

  const counted = [topics.telemetry, topics.telemetryDeadLetters];
  let delivered = 0;
  const countDelivered = async () => (delivered = await recordCount(admin, counted));
  const poller = setInterval(() => void countDelivered().catch(() => undefined), 100);
  stopAtExit(async () => clearInterval(poller));
  const publisher = await LoadPublisher.connect({
    ...load,
    mqttUrl,
    clientIdPrefix: `${namespace}-gateway-load`,
    fleetId: namespace,
  });
  const probe: Probe = {
    pids: new Map([
      ['gateway', gateway.child.pid!],
      ['mosquitto', pids.mosquitto],
      ['kafka', pids.kafka],
      ['publishers', process.pid],
    ]),
    delivered: () => delivered,
    countDelivered,
    startWindow: () => undefined,
    scrape: () => scrapeGateway(`http://127.0.0.1:${port}/metrics`),
  };
  const measured: Measured[] = [];
  for (const [index, target] of targets.entries()) {
    const warmUpSeconds = index === 0 ? gatewayStartWarmUpSeconds : gatewayWarmUpSeconds;
    measured.push(await runStep(publisher, probe, target, warmUpSeconds, gatewaySeconds));
  }
  await publisher.close();
  clearInterval(poller);
  const exitCode = await gateway.stop();
  if (exitCode !== 0) process.stderr.write(`${output.slice(-30).join('\n')}\n`);

  const records = await recordCount(admin, [topics.telemetry]);
  const deadLetters = await recordCount(admin, [topics.telemetryDeadLetters]);
  log(`reading ${records} records back from Kafka`);
  const latencies = await appendLatencies(
    kafka,
    `${namespace}-bench-reader`,
    topics.telemetry,
    records,
    measured.map(({ window }) => window),
    60_000,
  );
  await admin.deleteGroups([`${namespace}-bench-reader`]);
  const steps = measured.map(({ result }, index) => ({
    ...result,
    latencyMs: latencies[index]!.summary(),
  }));
  return { steps, sent: publisher.sent, failed: publisher.failed, records, deadLetters, exitCode };
}

/** Kafka from the local stack, started when it is not answering (`up` reuses whatever already runs). */
async function stackKafka(): Promise<{ kafkaBrokers: string; kafkaPid: number }> {
  const options = { ...stackOptionsFromEnv(), log };
  const kafkaStatus = async () => (await stackStatus(options)).find((entry) => entry.service === 'kafka')!;
  let status = await kafkaStatus();
  if (!status.ready) {
    log('local stack not ready: starting it');
    await stackUp(options);
    status = await kafkaStatus();
  }
  return { kafkaBrokers: status.endpoint, kafkaPid: status.pid! };
}

function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => row[column]!.length)),
  );
  const format = (cells: string[]) =>
    cells
      .map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!)))
      .join('  ');
  return [format(header), format(widths.map((width) => '-'.repeat(width))), ...rows.map(format)].join('\n');
}

const rate = (value: number) => Math.round(value).toLocaleString('en-US');
const ms = (value: number | undefined) =>
  value === undefined || Number.isNaN(value) ? '-' : value.toFixed(1);
const cores = (value: number | undefined) => (value === undefined ? '-' : value.toFixed(2));
const label = (target: Target) => (target === 'max' ? 'unpaced' : rate(target));

function latencyTable(broker: StepResult[], gateway: StepResult[]): string {
  const rows = gateway.map((step, index) => {
    const hop = broker[index]!;
    const paced = step.target !== 'max';
    return [
      label(step.target),
      rate(hop.deliveredPerSecond),
      `${ms(hop.latencyMs.p50Ms)} / ${ms(hop.latencyMs.p99Ms)}`,
      rate(step.sentPerSecond),
      rate(step.deliveredPerSecond),
      `${ms(step.latencyMs.p50Ms)} / ${ms(step.latencyMs.p99Ms)}`,
      paced
        ? `${ms(step.latencyMs.p50Ms - hop.latencyMs.p50Ms)} / ${ms(step.latencyMs.p99Ms - hop.latencyMs.p99Ms)}`
        : '-',
      `${ms(step.gatewayAckMs?.p50)} / ${ms(step.gatewayAckMs?.p99)}`,
    ];
  });
  return formatTable(
    [
      'target msg/s',
      'bare sub msg/s',
      'hop p50/p99 ms',
      'sent msg/s',
      'into Kafka msg/s',
      'to Kafka p50/p99 ms',
      'added p50/p99 ms',
      'in gateway p50/p99 ms',
    ],
    rows,
  );
}

function resourceTable(broker: StepResult[], gateway: StepResult[]): string {
  const rows = gateway.map((step, index) => {
    const hop = broker[index]!;
    return [
      label(step.target),
      cores(step.cores.gateway),
      cores(step.cores.mosquitto),
      cores(step.cores.kafka),
      cores(step.cores.publishers),
      cores(step.cores.other),
      cores(step.cores.machine),
      `${rate(step.rssMiB.gateway!)} / ${rate(step.rssMiB.mosquitto!)} / ${rate(step.rssMiB.kafka!)}`,
      [hop.cores.mosquitto, hop.cores.subscriber, hop.cores.publishers, hop.cores.other, hop.cores.machine]
        .map(cores)
        .join(' / '),
      `${step.referenceMicroseconds.before.toFixed(1)} / ${step.referenceMicroseconds.after.toFixed(1)}`,
    ];
  });
  return formatTable(
    [
      'target msg/s',
      'gateway',
      'mosquitto',
      'kafka',
      'publishers',
      'other',
      `machine (of ${cpus().length})`,
      'RSS MiB gw / mosq / kafka',
      'bare run: mosq / sub / pub / other / machine',
      'ref µs before / after',
    ],
    rows,
  );
}

const watchdog = setTimeout(
  () => abort(`the bench ran longer than ${timeLimitMs / 1000} s: stopping`, 1),
  timeLimitMs,
);
abortOnFailure();

const namespace = `bench-${randomBytes(4).toString('hex')}`;
const loadAtStart = loadavg();
try {
  referenceWorkMicroseconds(); // compiles the reference loop, so that the first step's figure is comparable
  const quietBefore = sampleUsage(new Map());
  await sleep(2_000);
  const backgroundCores = coresUsed(quietBefore, sampleUsage(new Map())).machine!;
  if (backgroundCores > 0.25)
    log(`warning: the machine is busy before the bench starts (${cores(backgroundCores)} cores)`);
  const { kafkaBrokers, kafkaPid } = await stackKafka();
  const mosquitto = await startPrivateMosquitto();
  stopAtExit(() => mosquitto.stop());
  log(`namespace ${namespace}; broker hop alone (${brokerSeconds} s per rate)`);
  const broker = await measureBrokerHop(mosquitto.url, mosquitto.pid, namespace);
  log(`through the gateway (${gatewaySeconds} s per rate)`);
  const gateway = await measureGateway(
    mosquitto.url,
    kafkaBrokers,
    { mosquitto: mosquitto.pid, kafka: kafkaPid },
    namespace,
  );

  const lost = gateway.sent - gateway.records;
  process.stdout.write(
    `\n${latencyTable(broker, gateway.steps)}\n\ncores used\n${resourceTable(broker, gateway.steps)}\n\n`,
  );
  process.stdout.write(
    `gateway run: ${rate(gateway.sent)} published, ${rate(gateway.records)} records on the telemetry topic, ` +
      `${gateway.deadLetters} dead letters, gateway exit code ${gateway.exitCode}\n`,
  );
  const report = {
    ...machineDescription(loadAtStart),
    backgroundCoresBeforeStart: backgroundCores,
    gatewayEnvironment: Object.fromEntries(
      Object.entries(process.env).filter(([name]) => name.startsWith('GATEWAY_')),
    ),
    method: {
      load: { ...load, payloadBytes: '~270', qos: 1, protocol: 'MQTT v5' },
      broker: `bare MQTT.js subscriber process on $share/…/fleet/+/+/+; ${brokerWarmUpSeconds} s warm-up, ${brokerSeconds} s measured`,
      gateway: `${gatewayWarmUpSeconds} s warm-up (${gatewayStartWarmUpSeconds} s for the first rate), ${gatewaySeconds} s measured`,
      throughput: 'records added to the telemetry topic (sum of partition high watermarks) over the window',
      latency:
        'publisher send time (ext.sentAt) to Kafka LogAppendTime (+0.5 ms for its 1 ms resolution), for messages sent in the window',
      added: 'to-Kafka percentile minus the bare broker hop percentile at the same target rate',
      inGateway: 'fleetlog_gateway_kafka_ack_seconds, interpolated within buckets',
      cpu: 'utime+stime from /proc/<pid>/stat over the window; machine = busy time from /proc/stat',
    },
    broker,
    gateway: gateway.steps,
    integrity: {
      published: gateway.sent,
      publishFailures: gateway.failed,
      records: gateway.records,
      deadLetters: gateway.deadLetters,
      missing: Math.max(0, lost),
      duplicates: Math.max(0, -lost),
      gatewayExitCode: gateway.exitCode,
    },
  };
  writeReport('gateway', report);
  if (lost !== 0 || gateway.failed !== 0 || gateway.deadLetters !== 0 || gateway.exitCode !== 0)
    process.exitCode = 1;
} finally {
  await cleanUp();
  clearTimeout(watchdog);
}
