/**
 * The whole pipeline end to end on this machine: devices → Mosquitto → gateway → Kafka → cep → Elasticsearch →
 * fleet.alerts → notifier → signed webhook, every part a real process on the local stack, load generator included.
 *
 * Load steps of 1 Hz vehicles (vehicles = events/s), every vehicle on the rule library plus `e2e-speeding` (a
 * reading above 200 km/h, sent by a known share of readings, about 20 a second). Per step: the rate offered and
 * achieved; publish→alert indexed (the alert's fleet.alerts record, appended by cep after Elasticsearch confirmed
 * the alert document, stamped by the broker: LogAppendTime), publish→webhook delivered (the receiver's clock),
 * publish→searchable (single readings followed until a search finds them); CPU and resident memory of every
 * process; consumer lag once a second. The ramp climbs until a step is not sustained (rate not achieved, lag
 * growing, or p99 publish→alert indexed at 1 s or more), then a soak holds the highest sustained rate (or, if none
 * was, the highest the pipeline kept up with) and counts every reading in Elasticsearch. The same ramp and soak run
 * again with CEP_RAW_TELEMETRY=rollups-only (issue 8 asks for both rates over a soak).
 *
 * Run after `npm run build`: node --disable-warning=TimeoutNegativeWarning bench/e2e.bench.ts
 * BENCH_E2E_STEP_S (default 45), BENCH_E2E_SOAK_S (default 600 for each mode; 0 skips), BENCH_E2E_MODES (default
 * "indexed,rollups-only"), BENCH_E2E_RATES (the ramp's rates for every mode, e.g. "1000,5000"),
 * BENCH_E2E_APP_LOG_LEVEL (the apps', default warn). Writes bench-results/e2e.{json,md}, e2e-latency.svg and e2e-lag.svg.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, copyFileSync, writeFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Consumer } from 'kafkajs';
import {
  consumerGroupId,
  decodeTelemetryRecord,
  topicNames,
  topicSpecs,
} from '../dist/libs/contracts/src/index.js';
import { datasetNames, recordIndexNames } from '../dist/libs/elasticsearch/src/index.js';
import {
  freePort,
  startApp,
  waitUntilReady,
  type AppName,
  type AppProcess,
} from '../tools/main/app-process.ts';
import { stackOptionsFromEnv, stackStatus } from '../tools/stack/local-stack.ts';
import { LatencyHistogram, type LatencySummary } from './support/latency-histogram.ts';
import { coresUsed, residentMiB, sampleUsage, type UsageSample } from './support/process-usage.ts';
import { cleanUp, stopAtExit } from './support/exit-cleanup.ts';
import { startPrivateMosquitto } from './support/private-mosquitto.ts';
import { stackClients } from './support/stack-clients.ts';
import { machineDescription, writeReport } from './support/report.ts';
import { lineChartSvg } from './support/svg-chart.ts';
import { LoadPublisher, speedingKph } from './support/telemetry-load.ts';
import { startWebhookReceiver } from './support/webhook-receiver.ts';

type Mode = 'indexed' | 'rollups-only';

const stepSeconds = Number(process.env.BENCH_E2E_STEP_S ?? 45);
const soakSeconds = Number(process.env.BENCH_E2E_SOAK_S ?? 600);
const modes = (process.env.BENCH_E2E_MODES ?? 'indexed,rollups-only').split(',') as Mode[];
/** Latencies of the first seconds of a step (the new vehicles' first readings, connections opening) are left out. */
const settleSeconds = 5;
const alertsPerSecond = 20;
const warmUpRate = 5_000;
const rates = process.env.BENCH_E2E_RATES?.split(',').map(Number);
const ramps: Record<Mode, number[]> = {
  indexed: rates ?? [1_000, 5_000, 10_000, 12_500, 15_000, 17_500, 20_000, 25_000, 30_000],
  'rollups-only': rates ?? [10_000, 15_000, 20_000, 25_000, 30_000, 40_000, 50_000],
};
/** Rates every mode is measured at whether or not the ramp has failed by then (issue 8's comparison points). */
const alwaysMeasured = new Set([1_000, 5_000]);
const loadAtStart = loadavg();
const stackOptions = stackOptionsFromEnv();
const { endpoints, kafka, elasticsearch, admin } = await stackClients(stackOptions);
// A broker of its own: the stack's keeps the persistent sessions tests left behind, each queueing a copy of every
// bench message (see bench/support/private-mosquitto.ts).
const mosquitto = await startPrivateMosquitto();
stopAtExit(() => mosquitto.stop());
/** The pipeline of the mode being measured: stopped at its end, or by `abort` if the bench fails on the way. */
let running: Pipeline | undefined;
stopAtExit(async () => running?.stop());
const stackPids = new Map(
  (await stackStatus(stackOptions)).flatMap((entry) =>
    entry.pid === undefined || entry.service === 'mosquitto'
      ? []
      : [[entry.service, entry.pid] as [string, number]],
  ),
);
stackPids.set('mosquitto', mosquitto.pid);

interface Observation {
  at: number;
  ms: number;
}

interface AppEventLoop {
  delayP99Ms: number;
  delayMaxMs: number;
  gcSeconds: number;
  majorGcSeconds: number;
}

/** The points an alert of `e2e-speeding` passes after cep (epoch milliseconds). */
interface AlertTimeline {
  raisedAt: number;
  alertAppended?: number;
  deliveryOwedAppended?: number;
  /** The notifier's clock as it began the attempt that arrived (the webhook's `timestamp`). */
  attemptStarted?: number;
  webhookArrived?: number;
}

/** The fields of fleet.alerts and fleet.webhooks.retry records the bench reads. */
interface AlertRecord {
  alertId: string;
  vehicleId: string;
  ruleId: string;
  status: string;
  raisedAt: string;
}
interface DeliveryRecord {
  kind: string;
  webhookId: string;
  targetId: string;
  attempt?: number;
  alert: AlertRecord;
}

/** A hop that carried the same alert transition more than once: the pipeline promises each exactly once. */
type DuplicatedHop = 'alert' | 'delivery owed' | 'webhook';

interface StepResult {
  mode: Mode;
  phase: 'ramp' | 'soak';
  targetRate: number;
  achievedRate: number;
  seconds: number;
  vehicles: number;
  /**
   * How late the bench process's event loop ran its callbacks: the webhook receiver's and the probes' clocks are read
   * there, beside the load generator, so their latencies include it.
   */
  benchEventLoopDelayMs: { p50: number; p99: number; max: number };
  /** Per app, from its own /metrics over the step: how late its event loop ran, and time spent collecting garbage. */
  appEventLoop: Record<string, AppEventLoop>;
  latencyMs: {
    alertIndexed: LatencySummary;
    /** Its two parts: publish → the reading's fleet.telemetry record appended (Mosquitto, the gateway, Kafka)… */
    publishToTelemetryAppended: LatencySummary;
    /** …and that append → the alert's fleet.alerts record appended (cep: its batch, the alert document, its commit). */
    telemetryToAlertAppended: LatencySummary;
    webhookDelivered: LatencySummary;
    /** The alert's fleet.alerts record appended → its delivery owed appended on fleet.webhooks.retry. */
    alertToDeliveryOwed: LatencySummary;
    /** The delivery owed appended → the webhook received. */
    deliveryOwedToWebhook: LatencySummary;
    /** Its two parts: delivery owed appended → the attempt that arrived began (waiting in the notifier)… */
    deliveryOwedToAttempt: LatencySummary;
    /** …and that attempt's start → the webhook received (connection, request, the receiver's event loop). */
    attemptToWebhook: LatencySummary;
    searchable: LatencySummary | null;
  };
  /** Records not yet committed, per consumer group: at the step's end and its largest. */
  lagAtEnd: Record<string, number>;
  maxLag: Record<string, number>;
  cores: Record<string, number>;
  residentMiB: Record<string, number>;
  /** Acknowledged readings missing from Elasticsearch (indexed mode) or from the log (rollups-only). */
  lost: number;
  /** Times Mosquitto began dropping messages queued for a client during the step (see `dropEpisodes`). */
  brokerDropEpisodes: number;
  /** Alert transitions seen again during the step, per hop, and when the first was seen. */
  duplicates: Record<DuplicatedHop, number>;
  firstDuplicateAt?: string;
  sustained: boolean;
  notSustainedBecause?: string;
}

/** The pipeline under test: a fresh namespace, the three apps, a webhook receiver, and what observes them. */
class Pipeline {
  readonly namespace = `bench-e2e-${randomBytes(3).toString('hex')}`;
  readonly topics = topicNames(this.namespace);
  readonly alertLatency: Observation[] = [];
  readonly webhookLatency: Observation[] = [];
  readonly publishToTelemetryLatency: Observation[] = [];
  readonly telemetryToAlertLatency: Observation[] = [];
  /** A speeding reading's record and its alert's, whichever was read first, until the other is. */
  private readonly halfSplits = new Map<
    string,
    { raisedAt: number; telemetryAppended?: number; alertAppended?: number }
  >();
  readonly alertToDeliveryOwedLatency: Observation[] = [];
  readonly deliveryOwedToWebhookLatency: Observation[] = [];
  readonly deliveryOwedToAttemptLatency: Observation[] = [];
  readonly attemptToWebhookLatency: Observation[] = [];
  readonly searchableLatency: Observation[] = [];
  readonly duplicates: Array<{ at: number; hop: DuplicatedHop }> = [];
  /** Per hop, the transitions seen and where: a bench reader reading a record again is no duplicate. */
  private readonly seen: Record<DuplicatedHop, Map<string, string>> = {
    alert: new Map(),
    'delivery owed': new Map(),
    webhook: new Map(),
  };
  private webhooksReceived = 0;
  readonly lag: Array<{ at: number; byGroup: Record<string, number> }> = [];
  readonly apps = new Map<AppName, AppProcess>();
  private readonly ports = new Map<AppName, number>();
  readonly groups: string[];
  private readonly rulesDir = mkdtempSync(join(tmpdir(), 'fleetlog-e2e-rules-'));
  private stopReceiver: (() => Promise<void>) | undefined;
  private readonly timelines = new Map<string, AlertTimeline>();
  private readers: Consumer[] = [];
  private sampler: NodeJS.Timeout | undefined;
  private probes = 0;
  private lastProbeAt = 0;
  readonly peakResidentMiB = new Map<string, number>();

  readonly mode: Mode;

  constructor(mode: Mode) {
    this.mode = mode;
    this.groups = mode === 'indexed' ? ['telemetry-indexer', 'cep-v1'] : ['cep-v1'];
  }

  async start(): Promise<void> {
    for (const file of readdirSync('rules').filter((name) => name.endsWith('.json')))
      copyFileSync(join('rules', file), join(this.rulesDir, file));
    writeFileSync(
      join(this.rulesDir, 'e2e-speeding.json'),
      JSON.stringify({
        id: 'e2e-speeding',
        version: 1,
        name: 'Above 200 km/h (end-to-end bench)',
        severity: 'info',
        conditions: { all: [{ fact: 'speedKph', operator: 'greaterThan', value: 200 }] },
        message: '{{vehicleId}} at {{speedKph}} km/h',
      }),
    );
    // Stamped by the broker on append: when the gateway forwarded a reading, when cep, having stored the alert,
    // handed it on, and when the notifier's fan-out recorded the delivery owed.
    await admin.createTopics({
      waitForLeaders: true,
      topics: (['telemetry', 'alerts', 'webhookRetries'] as const).map((topic) => ({
        topic: this.topics[topic],
        numPartitions: topicSpecs[topic].numPartitions,
        replicationFactor: -1,
        configEntries: [
          ...topicSpecs[topic].configEntries,
          { name: 'message.timestamp.type', value: 'LogAppendTime' },
        ],
      })),
    });
    const webhookUrl = await this.startReceiver();
    const shared = {
      FLEETLOG_NAMESPACE: this.namespace,
      KAFKA_BROKERS: endpoints.kafkaBrokers,
      ELASTICSEARCH_URL: endpoints.elasticsearchUrl,
      MQTT_URL: mosquitto.url,
      LOG_LEVEL: process.env.BENCH_E2E_APP_LOG_LEVEL ?? 'warn',
    };
    const env: Record<'gateway' | 'cep' | 'notifier', NodeJS.ProcessEnv> = {
      gateway: {
        MQTT_CLIENT_ID: `${this.namespace}-gateway`,
        // Its session must not outlive the mode: its shared subscription would queue a copy of every message of the
        // next mode's run (up to max_queued_messages, then dropped), rewritten to disk every second.
        GATEWAY_SESSION_EXPIRY_S: '10',
      },
      cep: { RULES_DIR: this.rulesDir, CEP_RAW_TELEMETRY: this.mode },
      notifier: {
        WEBHOOK_URL: webhookUrl,
        WEBHOOK_SECRET: `whsec_${randomBytes(24).toString('base64')}`,
        WEBHOOK_ALLOW_PRIVATE_NETWORK: 'true',
        // Enough concurrent deliveries that ~60 webhooks a second (three rules fire on a speeding reading) never queue.
        WEBHOOK_MAX_IN_FLIGHT_PER_TARGET: '32',
      },
    };
    for (const name of ['gateway', 'cep', 'notifier'] as const) {
      const port = await freePort();
      const app = startApp(name, { ...shared, ...env[name], HTTP_PORT: String(port) }, (line) =>
        process.stdout.write(`  ${name}: ${line}\n`),
      );
      this.apps.set(name, app);
      this.ports.set(name, port);
      await waitUntilReady(app, `http://127.0.0.1:${port}/health`);
    }
    await this.startReaders();
    this.sampler = setInterval(() => void this.sample(), 1_000);
  }

  /** Apps that ended on their own (cep and the notifier exit when a consumer cannot go on): no supervisor here. */
  exitedApps(): AppName[] {
    return [...this.apps]
      .filter(([, app]) => app.child.exitCode !== null || app.child.signalCode !== null)
      .map(([name]) => name);
  }

  /**
   * Each app's Prometheus figures (`name{labels}` → value). Scraping also resets the event-loop delay histogram
   * prom-client keeps, so a scrape at a step's start and one at its end bracket the step.
   */
  async scrapeApps(): Promise<Map<AppName, Map<string, number>>> {
    const scraped = new Map<AppName, Map<string, number>>();
    for (const [name, port] of this.ports) {
      const text = await fetch(`http://127.0.0.1:${port}/metrics`)
        .then((response) => response.text())
        .catch(() => '');
      const figures = new Map<string, number>();
      for (const line of text.split('\n')) {
        const [series, value] = line.startsWith('#') ? [] : line.split(' ');
        if (series && value) figures.set(series, Number(value));
      }
      scraped.set(name, figures);
    }
    return scraped;
  }

  pids(): Map<string, number> {
    const pids = new Map(stackPids);
    for (const [name, app] of this.apps) pids.set(name, app.child.pid!);
    pids.set('load generator', process.pid);
    return pids;
  }

  /** Follows one reading in a while (at most 8 at once) until a search finds it. */
  offerProbe(fleetId: string, vehicleId: string, seq: number, sentAt: number): void {
    if (this.mode !== 'indexed' || this.probes >= 8 || sentAt - this.lastProbeAt < 250) return;
    this.lastProbeAt = sentAt;
    this.probes++;
    void this.follow(fleetId, vehicleId, seq, sentAt).finally(() => this.probes--);
  }

  async stop(): Promise<void> {
    clearInterval(this.sampler);
    for (const reader of this.readers) await reader.disconnect();
    for (const app of [...this.apps.values()].reverse()) await app.stop();
    await this.stopReceiver?.();
    const indices = [
      ...Object.values(datasetNames(this.namespace, 'v1')).map((names) => names.index),
      ...Object.values(recordIndexNames(this.namespace)),
    ];
    for (const index of indices) await elasticsearch.indices.delete({ index }, { ignore: [404] });
    await admin.deleteTopics({ topics: Object.values(this.topics) }).catch(() => undefined);
    rmSync(this.rulesDir, { recursive: true, force: true });
  }

  /** Records appended to fleet.telemetry so far: the sum of its partitions' high watermarks. */
  async recordsInLog(): Promise<number> {
    const offsets = await admin.fetchTopicOffsets(this.topics.telemetry);
    return offsets.reduce((sum, { high }) => sum + Number(high), 0);
  }

  async lagNow(): Promise<Record<string, number>> {
    const high = await this.recordsInLog();
    const byGroup: Record<string, number> = {};
    for (const group of this.groups) {
      const [committed] = await admin.fetchOffsets({
        groupId: consumerGroupId(this.namespace, group),
        topics: [this.topics.telemetry],
      });
      byGroup[group] =
        high - committed!.partitions.reduce((sum, { offset }) => sum + Math.max(0, Number(offset)), 0);
    }
    return byGroup;
  }

  private async sample(): Promise<void> {
    // A reading whose alert never came (or the reverse) is not waited for past two minutes.
    for (const [key, { raisedAt }] of this.halfSplits)
      if (raisedAt < Date.now() - 120_000) this.halfSplits.delete(key);
    const byGroup = await this.lagNow().catch(() => undefined);
    if (byGroup) this.lag.push({ at: Date.now(), byGroup });
    const pids = this.pids();
    const measured = new Set(pids.values());
    for (const [name, pid] of pids) {
      const resident = residentMiB(pid, measured);
      this.peakResidentMiB.set(name, Math.max(this.peakResidentMiB.get(name) ?? 0, resident));
    }
  }

  private async follow(fleetId: string, vehicleId: string, seq: number, sentAt: number): Promise<void> {
    const index = datasetNames(this.namespace, 'v1').telemetry.alias;
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const { count } = await elasticsearch.count({
        index,
        query: { bool: { filter: [{ term: { fleetId } }, { term: { vehicleId } }, { term: { seq } }] } },
      });
      if (count > 0) {
        this.searchableLatency.push({ at: sentAt, ms: Date.now() - sentAt });
        return;
      }
      await sleep(50);
    }
    this.searchableLatency.push({ at: sentAt, ms: Number.POSITIVE_INFINITY });
  }

  private async startReceiver(): Promise<string> {
    const receiver = await startWebhookReceiver('/e2e', ({ id, body: { type, timestamp, data } }) => {
      if (this.seenBefore('webhook', id, String(++this.webhooksReceived))) return;
      if (type === 'alert.active' && data.ruleId === 'e2e-speeding') {
        const raisedAt = Date.parse(data.raisedAt);
        const arrivedAt = Date.now();
        this.webhookLatency.push({ at: raisedAt, ms: arrivedAt - raisedAt });
        this.mark(data.alertId, raisedAt, 'attemptStarted', Date.parse(timestamp));
        this.mark(data.alertId, raisedAt, 'webhookArrived', arrivedAt);
      }
    });
    this.stopReceiver = receiver.stop;
    return receiver.url;
  }

  private async startReaders(): Promise<void> {
    this.readers = [
      await this.read(this.topics.alerts, (alert: AlertRecord, appendedAt, position) => {
        if (this.seenBefore('alert', `${alert.alertId}.${alert.status}`, position)) return;
        if (alert.status !== 'active' || alert.ruleId !== 'e2e-speeding') return;
        const raisedAt = Date.parse(alert.raisedAt);
        this.alertLatency.push({ at: raisedAt, ms: appendedAt - raisedAt });
        this.mark(alert.alertId, raisedAt, 'alertAppended', appendedAt);
        this.split(alert.vehicleId, raisedAt, 'alertAppended', appendedAt);
      }),
      await this.readSpeedingReadings(),
      await this.read(this.topics.webhookRetries, (delivery: DeliveryRecord, appendedAt, position) => {
        const { kind, attempt, alert } = delivery;
        if (kind !== 'due' || attempt !== 1) return;
        if (this.seenBefore('delivery owed', `${delivery.targetId}.${delivery.webhookId}`, position)) return;
        if (alert.status !== 'active' || alert.ruleId !== 'e2e-speeding') return;
        this.mark(alert.alertId, Date.parse(alert.raisedAt), 'deliveryOwedAppended', appendedAt);
      }),
    ];
  }

  private async read<T>(
    topic: string,
    onRecord: (value: T, appendedAt: number, position: string) => void,
  ): Promise<Consumer> {
    const reader = kafka.consumer({ groupId: `${this.namespace}-bench-${topic}`, maxWaitTimeInMs: 100 });
    await reader.connect();
    await reader.subscribe({ topic, fromBeginning: true });
    await reader.run({
      eachMessage: async ({ partition, message }) =>
        onRecord(
          JSON.parse(message.value!.toString()),
          Number(message.timestamp),
          `${partition}:${message.offset}`,
        ),
    });
    return reader;
  }

  /** fleet.telemetry at the full rate, for the append time of the speeding readings (`speedingKph`: nothing else is). */
  private async readSpeedingReadings(): Promise<Consumer> {
    const reader = kafka.consumer({ groupId: `${this.namespace}-bench-telemetry`, maxWaitTimeInMs: 100 });
    await reader.connect();
    await reader.subscribe({ topic: this.topics.telemetry, fromBeginning: true });
    await reader.run({
      eachBatch: async ({ batch }) => {
        for (const { value, timestamp } of batch.messages) {
          const reading = value ? decodeTelemetryRecord(value) : undefined;
          if (reading?.speedKph !== speedingKph) continue;
          this.split(reading.vehicleId, Date.parse(reading.ts), 'telemetryAppended', Number(timestamp));
        }
      },
    });
    return reader;
  }

  /** The reading at `raisedAt` (its event time is its send time) and its alert: the two parts of the alert's hop. */
  private split(
    vehicleId: string,
    raisedAt: number,
    point: 'telemetryAppended' | 'alertAppended',
    at: number,
  ): void {
    const key = `${vehicleId}|${raisedAt}`;
    const half = this.halfSplits.get(key) ?? { raisedAt };
    half[point] = at;
    if (half.telemetryAppended === undefined || half.alertAppended === undefined) {
      this.halfSplits.set(key, half);
      return;
    }
    this.halfSplits.delete(key);
    this.publishToTelemetryLatency.push({ at: raisedAt, ms: half.telemetryAppended - raisedAt });
    this.telemetryToAlertLatency.push({ at: raisedAt, ms: half.alertAppended - half.telemetryAppended });
  }

  /** Records the transition as seen at `position`; true (a duplicate counted if elsewhere) if it already was. */
  private seenBefore(hop: DuplicatedHop, key: string, position: string): boolean {
    const seenAt = this.seen[hop].get(key);
    if (seenAt === undefined) {
      this.seen[hop].set(key, position);
      return false;
    }
    if (seenAt !== position) this.duplicates.push({ at: Date.now(), hop });
    return true;
  }

  /** The readers and the receiver see an alert in any order: the last of the three records the notifier's hops. */
  private mark(
    alertId: string,
    raisedAt: number,
    point: keyof Omit<AlertTimeline, 'raisedAt'>,
    at: number,
  ): void {
    const timeline = this.timelines.get(alertId) ?? { raisedAt };
    timeline[point] = at;
    const { alertAppended, deliveryOwedAppended, attemptStarted, webhookArrived } = timeline;
    if (
      alertAppended === undefined ||
      deliveryOwedAppended === undefined ||
      attemptStarted === undefined ||
      webhookArrived === undefined
    ) {
      this.timelines.set(alertId, timeline);
      return;
    }
    this.timelines.delete(alertId);
    this.alertToDeliveryOwedLatency.push({ at: raisedAt, ms: deliveryOwedAppended - alertAppended });
    this.deliveryOwedToWebhookLatency.push({ at: raisedAt, ms: webhookArrived - deliveryOwedAppended });
    this.deliveryOwedToAttemptLatency.push({ at: raisedAt, ms: attemptStarted - deliveryOwedAppended });
    this.attemptToWebhookLatency.push({ at: raisedAt, ms: webhookArrived - attemptStarted });
  }
}

const eventLoopSamplingMs = 10;
/** The histogram holds each sampling interval's whole length in nanoseconds: the delay is what exceeds it. */
const lateBy = (intervalNs: number) => Math.max(0, intervalNs / 1e6 - eventLoopSamplingMs);

/** prom-client samples the loop every 10 ms and, like `lateBy`, counts the interval itself. */
function eventLoopOverStep(atStart: Map<string, number>, atEnd: Map<string, number>): AppEventLoop {
  const gcSum = (figures: Map<string, number>, kind?: string) =>
    [...figures]
      .filter(
        ([series]) =>
          series.startsWith('nodejs_gc_duration_seconds_sum') && (!kind || series.includes(`kind="${kind}"`)),
      )
      .reduce((sum, [, value]) => sum + value, 0);
  // The apps label their figures (`{app="cep"}`): matched by name.
  const delayMs = (name: string) =>
    lateBy(([...atEnd].find(([series]) => series === name || series.startsWith(`${name}{`))?.[1] ?? 0) * 1e9);
  return {
    delayP99Ms: delayMs('nodejs_eventloop_lag_p99_seconds'),
    delayMaxMs: delayMs('nodejs_eventloop_lag_max_seconds'),
    gcSeconds: gcSum(atEnd) - gcSum(atStart),
    majorGcSeconds: gcSum(atEnd, 'major') - gcSum(atStart, 'major'),
  };
}

function summarise(observations: Observation[], from: number, to: number): LatencySummary {
  const histogram = new LatencyHistogram();
  for (const { at, ms } of observations) if (at >= from && at < to) histogram.record(ms);
  return histogram.summary();
}

async function runStep(pipeline: Pipeline, rate: number, seconds: number, phase: StepResult['phase']) {
  const fleetId = `e2e-${phase}-${rate}`;
  process.stdout.write(`${pipeline.mode} ${phase}: ${rate.toLocaleString('en-US')} ev/s for ${seconds} s…\n`);
  const loggedBefore = await pipeline.recordsInLog();
  const dropEpisodesBefore = await mosquitto.dropEpisodes();
  let logged = 0;
  const counter = setInterval(() => {
    void pipeline.recordsInLog().then((records) => (logged = records - loggedBefore));
  }, 200);
  const publisher = await LoadPublisher.connect({
    mqttUrl: mosquitto.url,
    clientIdPrefix: `${pipeline.namespace}-${fleetId}`,
    fleetId,
    connections: Math.min(8, Math.ceil(rate / 2_500)),
    vehicles: rate,
    maxUnacknowledgedPerConnection: 2_000,
    maxBacklog: rate * 5,
    alertEvery: Math.max(10, Math.round(rate / alertsPerSecond)),
    onSent: (vehicleId, seq, sentAt) => pipeline.offerProbe(fleetId, vehicleId, seq, sentAt),
  });
  const pids = pipeline.pids();
  const usageAtStart: UsageSample = sampleUsage(pids);
  const appMetricsAtStart = await pipeline.scrapeApps();
  const eventLoopDelay = monitorEventLoopDelay({ resolution: eventLoopSamplingMs });
  eventLoopDelay.enable();
  const startedAt = Date.now();
  pipeline.peakResidentMiB.clear();
  publisher.start(rate, () => logged);
  await sleep(seconds * 1_000);
  await publisher.pause();
  const endedAt = Date.now();
  const usageAtEnd = sampleUsage(pids);
  const appMetricsAtEnd = await pipeline.scrapeApps();
  eventLoopDelay.disable();
  clearInterval(counter);
  const acknowledged = publisher.sent - publisher.failed;
  await publisher.close();
  const lagAtEnd = await pipeline.lagNow();
  // Alerts and webhooks of the step's last readings are still on their way.
  await sleep(3_000);
  const during = pipeline.lag.filter(({ at }) => at >= startedAt && at <= endedAt);
  const maxLag = Object.fromEntries(
    pipeline.groups.map((group) => [group, Math.max(0, ...during.map(({ byGroup }) => byGroup[group] ?? 0))]),
  );
  const from = startedAt + settleSeconds * 1_000;
  const result: StepResult = {
    mode: pipeline.mode,
    phase,
    targetRate: rate,
    achievedRate: Math.round(acknowledged / ((endedAt - startedAt) / 1_000)),
    seconds,
    vehicles: rate,
    benchEventLoopDelayMs: {
      p50: lateBy(eventLoopDelay.percentile(50)),
      p99: lateBy(eventLoopDelay.percentile(99)),
      max: lateBy(eventLoopDelay.max),
    },
    appEventLoop: Object.fromEntries(
      [...appMetricsAtEnd].map(([name, atEnd]) => [
        name,
        eventLoopOverStep(appMetricsAtStart.get(name) ?? new Map(), atEnd),
      ]),
    ),
    latencyMs: {
      alertIndexed: summarise(pipeline.alertLatency, from, endedAt),
      publishToTelemetryAppended: summarise(pipeline.publishToTelemetryLatency, from, endedAt),
      telemetryToAlertAppended: summarise(pipeline.telemetryToAlertLatency, from, endedAt),
      webhookDelivered: summarise(pipeline.webhookLatency, from, endedAt),
      alertToDeliveryOwed: summarise(pipeline.alertToDeliveryOwedLatency, from, endedAt),
      deliveryOwedToWebhook: summarise(pipeline.deliveryOwedToWebhookLatency, from, endedAt),
      deliveryOwedToAttempt: summarise(pipeline.deliveryOwedToAttemptLatency, from, endedAt),
      attemptToWebhook: summarise(pipeline.attemptToWebhookLatency, from, endedAt),
      searchable: pipeline.mode === 'indexed' ? summarise(pipeline.searchableLatency, from, endedAt) : null,
    },
    lagAtEnd,
    maxLag,
    cores: roundAll(coresUsed(usageAtStart, usageAtEnd)),
    residentMiB: roundAll(Object.fromEntries(pipeline.peakResidentMiB)),
    lost: await lostReadings(pipeline, fleetId, acknowledged, loggedBefore),
    brokerDropEpisodes: (await mosquitto.dropEpisodes()) - dropEpisodesBefore,
    ...duplicatesSince(pipeline, startedAt),
    sustained: true,
  };
  const reasons = [
    result.achievedRate < rate * 0.97 && `offered ${rate}, achieved ${result.achievedRate} ev/s`,
    Object.values(lagAtEnd).some((lag) => lag > rate * 2) && `lag at the end ${JSON.stringify(lagAtEnd)}`,
    !(result.latencyMs.alertIndexed.p99Ms < 1_000) &&
      `p99 publish→alert indexed ${result.latencyMs.alertIndexed.p99Ms} ms`,
    result.lost > 0 &&
      `${result.lost} readings lost${
        result.brokerDropEpisodes > 0
          ? ' (Mosquitto dropped messages queued for the gateway: more than max_queued_messages behind)'
          : ''
      }`,
    ...pipeline.exitedApps().map((name) => `${name} exited`),
  ].filter((reason): reason is string => typeof reason === 'string');
  result.sustained = reasons.length === 0;
  if (!result.sustained) result.notSustainedBecause = reasons.join('; ');
  process.stdout.write(`  ${describe(result)}\n`);
  return result;
}

/**
 * Bursts of traffic until one goes through promptly: every consumer group has read all of it, and its webhooks
 * arrived, within 2 s of its end. Right after the stack starts, Kafka's group coordinators are still loading and the
 * JVMs are cold: in runs started then, Elasticsearch took twice the CPU per document, and the telemetry indexer fell
 * 20,000 to 60,000 records behind at 1,000 and 5,000 ev/s that it kept up with a few minutes later. The steps are to
 * measure the pipeline, not its first minutes. Returns how long each burst took to settle.
 */
async function warmUp(pipeline: Pipeline): Promise<number[]> {
  const deadline = Date.now() + 5 * 60_000;
  const settled: number[] = [];
  const publisher = await LoadPublisher.connect({
    mqttUrl: mosquitto.url,
    clientIdPrefix: `${pipeline.namespace}-warm-up`,
    fleetId: 'e2e-warm-up',
    connections: 2,
    vehicles: warmUpRate,
    maxUnacknowledgedPerConnection: 2_000,
    maxBacklog: Number.MAX_SAFE_INTEGER,
    alertEvery: Math.round(warmUpRate / alertsPerSecond),
  });
  try {
    while (Date.now() < deadline) {
      const webhooksBefore = pipeline.webhookLatency.length;
      publisher.start(warmUpRate, () => 0);
      await sleep(10_000);
      await publisher.pause();
      const burstEnded = Date.now();
      while (Date.now() - burstEnded < 60_000) {
        const lag = await pipeline.lagNow();
        if (
          Object.values(lag).every((records) => records === 0) &&
          pipeline.webhookLatency.length > webhooksBefore
        )
          break;
        await sleep(250);
      }
      settled.push(Date.now() - burstEnded);
      process.stdout.write(
        `warm-up: a 10 s burst at ${warmUpRate} ev/s settled ${settled.at(-1)} ms after it\n`,
      );
      if (settled.at(-1)! < 2_000) return settled;
    }
    process.stdout.write('warm-up: not settled after 5 minutes; measuring anyway\n');
    return settled;
  } finally {
    await publisher.close();
  }
}

/**
 * Waits until the gateway has written what it will and every consumer group has committed the whole log, then
 * counts the step's acknowledged readings that are not where they should be: in Elasticsearch (indexed), or in the
 * log (rollups-only, which indexes none).
 */
async function lostReadings(
  pipeline: Pipeline,
  fleetId: string,
  acknowledged: number,
  loggedBefore: number,
): Promise<number> {
  const deadline = Date.now() + 180_000;
  // A gateway that fell behind is still working off what the broker queued for it: wait for the log to stop growing.
  let inLog = await pipeline.recordsInLog();
  let grewAt = Date.now();
  while (Date.now() < deadline && inLog - loggedBefore < acknowledged && Date.now() - grewAt < 10_000) {
    await sleep(1_000);
    const now = await pipeline.recordsInLog();
    if (now > inLog) [inLog, grewAt] = [now, Date.now()];
  }
  while (Date.now() < deadline && Object.values(await pipeline.lagNow()).some((lag) => lag > 0))
    await sleep(1_000);
  if (pipeline.mode === 'rollups-only')
    return Math.max(0, acknowledged - ((await pipeline.recordsInLog()) - loggedBefore));
  const index = datasetNames(pipeline.namespace, 'v1').telemetry.alias;
  await elasticsearch.indices.refresh({ index });
  const { count } = await elasticsearch.count({ index, query: { term: { fleetId } } });
  return Math.max(0, acknowledged - count);
}

function duplicatesSince(
  pipeline: Pipeline,
  from: number,
): Pick<StepResult, 'duplicates' | 'firstDuplicateAt'> {
  const during = pipeline.duplicates.filter(({ at }) => at >= from);
  const count = (hop: DuplicatedHop) => during.filter((duplicate) => duplicate.hop === hop).length;
  return {
    duplicates: { alert: count('alert'), 'delivery owed': count('delivery owed'), webhook: count('webhook') },
    ...(during.length > 0 && { firstDuplicateAt: new Date(during[0]!.at).toISOString() }),
  };
}

function roundAll(values: Record<string, number>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(values).map(([key, value]) => [key, Math.round(value * 100) / 100]),
  );
}

const ms = (value: number | undefined) =>
  value === undefined || Number.isNaN(value) ? '–' : value.toFixed(0);
const triple = (summary: LatencySummary | null) =>
  summary === null || summary.count === 0
    ? '–'
    : `${ms(summary.p50Ms)} / ${ms(summary.p99Ms)} / ${ms(summary.p999Ms)}`;

function describe(result: StepResult): string {
  return `${result.achievedRate} ev/s; alert indexed ${triple(result.latencyMs.alertIndexed)} ms (→reading appended ${triple(
    result.latencyMs.publishToTelemetryAppended,
  )}, →alert appended ${triple(result.latencyMs.telemetryToAlertAppended)}); webhook ${triple(
    result.latencyMs.webhookDelivered,
  )} ms (event loop delay p99/max ms: bench ${ms(result.benchEventLoopDelayMs.p99)}/${ms(
    result.benchEventLoopDelayMs.max,
  )}, ${Object.entries(result.appEventLoop)
    .map(([name, loop]) => `${name} ${ms(loop.delayP99Ms)}/${ms(loop.delayMaxMs)}`)
    .join(', ')}; alert appended→delivery owed ${triple(
    result.latencyMs.alertToDeliveryOwed,
  )}, →webhook ${triple(result.latencyMs.deliveryOwedToWebhook)}: →attempt ${triple(
    result.latencyMs.deliveryOwedToAttempt,
  )}, attempt→webhook ${triple(result.latencyMs.attemptToWebhook)}); lag ${JSON.stringify(result.lagAtEnd)}; duplicates ${JSON.stringify(result.duplicates)}${
    result.firstDuplicateAt ? ` (first at ${result.firstDuplicateAt})` : ''
  }; ${result.sustained ? 'sustained' : `NOT sustained: ${result.notSustainedBecause}`}`;
}

function markdownTable(results: StepResult[]): string {
  const processes = ['gateway', 'cep', 'notifier', 'kafka', 'elasticsearch', 'mosquitto', 'load generator'];
  const header = [
    'mode',
    'phase',
    'offered ev/s',
    'achieved ev/s',
    'publish→alert indexed p50/p99/p999 ms',
    'publish→webhook p50/p99/p999 ms',
    'publish→reading appended p50/p99/p999 ms',
    'reading appended→alert appended p50/p99/p999 ms',
    'alert appended→delivery owed p50/p99/p999 ms',
    'delivery owed→webhook p50/p99/p999 ms',
    'publish→searchable p50/p99/p999 ms',
    'max lag (records)',
    ...processes.map((name) => `${name} cores / MiB`),
    'lost',
    'duplicates alert / owed / webhook',
    'sustained',
  ];
  const rows = results.map((result) => [
    result.mode,
    result.phase === 'soak' ? `soak ${result.seconds / 60} min` : 'ramp',
    result.targetRate.toLocaleString('en-US'),
    result.achievedRate.toLocaleString('en-US'),
    triple(result.latencyMs.alertIndexed),
    triple(result.latencyMs.webhookDelivered),
    triple(result.latencyMs.publishToTelemetryAppended),
    triple(result.latencyMs.telemetryToAlertAppended),
    triple(result.latencyMs.alertToDeliveryOwed),
    triple(result.latencyMs.deliveryOwedToWebhook),
    triple(result.latencyMs.searchable),
    Object.values(result.maxLag)
      .map((lag) => lag.toLocaleString('en-US'))
      .join(' / '),
    ...processes.map(
      (name) => `${result.cores[name]?.toFixed(2) ?? '–'} / ${Math.round(result.residentMiB[name] ?? 0)}`,
    ),
    String(result.lost),
    Object.values(result.duplicates).join(' / '),
    result.sustained ? 'yes' : `no: ${result.notSustainedBecause}`,
  ]);
  return (
    [header, header.map(() => '---'), ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n') + '\n'
  );
}

const results: StepResult[] = [];
const lagSeries: Array<{ name: string; points: Array<[number, number]> }> = [];
const benchStartedAt = Date.now();
const warmUpSettledMs: Partial<Record<Mode, number[]>> = {};
for (const mode of modes) {
  const pipeline = new Pipeline(mode);
  running = pipeline;
  await pipeline.start();
  try {
    warmUpSettledMs[mode] = await warmUp(pipeline);
    let highestSustained: number | undefined;
    // Kept up with (rate achieved, lag bounded), even if latency was over the line: what the soak falls back to.
    let highestKeptUp: number | undefined;
    for (const rate of ramps[mode]) {
      const result = await runStep(pipeline, rate, stepSeconds, 'ramp');
      results.push(result);
      if (result.sustained) highestSustained = Math.max(highestSustained ?? 0, rate);
      const onlyTooSlow = result.notSustainedBecause?.startsWith('p99') === true && result.lost === 0;
      if (result.sustained || onlyTooSlow) highestKeptUp = Math.max(highestKeptUp ?? 0, rate);
      if (!result.sustained && !alwaysMeasured.has(rate)) break;
    }
    const soakRate = highestSustained ?? highestKeptUp;
    if (soakSeconds > 0 && soakRate !== undefined)
      results.push(await runStep(pipeline, soakRate, soakSeconds, 'soak'));
    for (const group of pipeline.groups)
      lagSeries.push({
        name: `${mode}: ${group}`,
        points: pipeline.lag.map(({ at, byGroup }) => [(at - benchStartedAt) / 1_000, byGroup[group] ?? 0]),
      });
  } finally {
    running = undefined;
    await pipeline.stop();
  }
}
await cleanUp();

const table = markdownTable(results);
process.stdout.write(`\n${table}\n`);
mkdirSync('bench-results', { recursive: true });
writeFileSync('bench-results/e2e.md', table);
const rampOf = (mode: Mode) => results.filter((result) => result.mode === mode && result.phase === 'ramp');
const latencyLines = modes.flatMap((mode) =>
  (
    [
      ['alert indexed', 'alertIndexed'],
      ['webhook', 'webhookDelivered'],
    ] as const
  ).flatMap(([label, key]) =>
    (['p50Ms', 'p99Ms', 'p999Ms'] as const).map((quantile) => ({
      name: `${mode === 'indexed' ? '' : 'rollups: '}${label} ${quantile.slice(0, -2)}`,
      points: rampOf(mode).map((result): [number, number] => [
        result.achievedRate,
        result.latencyMs[key][quantile],
      ]),
    })),
  ),
);
writeFileSync(
  'bench-results/e2e-latency.svg',
  lineChartSvg({
    title: 'Publish → alert indexed / webhook delivered, by load',
    xLabel: 'events per second (achieved)',
    yLabel: 'milliseconds (log scale)',
    logY: true,
    series: latencyLines,
  }),
);
writeFileSync(
  'bench-results/e2e-lag.svg',
  lineChartSvg({
    title: 'Consumer lag over the run (records not yet committed)',
    xLabel: 'seconds since the bench started',
    yLabel: 'records',
    series: lagSeries,
  }),
);
writeReport('e2e', {
  machine: machineDescription(loadAtStart),
  command: 'npm run bench:e2e',
  settings: { stepSeconds, soakSeconds, modes, alertsPerSecond, settleSeconds, warmUpRate },
  warmUpSettledMs,
  results,
  lag: lagSeries,
});
process.stdout.write('plots: bench-results/e2e-latency.svg, bench-results/e2e-lag.svg\n');
