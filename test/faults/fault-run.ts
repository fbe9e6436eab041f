import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from '@elastic/elasticsearch';
import {
  decodeTelemetryRecord,
  topicNames,
  type AlertMessage,
  type TelemetryRecord,
} from '@fleetlog/contracts';
import { datasetNames } from '@fleetlog/elasticsearch';
import { freePort, waitUntilReady, type AppName, type AppProcess } from '../../tools/main/app-process';
import { AppFleet } from '../support/app-fleet';
import { readTopicToEnd } from '../support/kafka-reader';
import { deleteNamespaceTopics, removeNamespaceIndices } from '../support/namespace-cleanup';
import { WebhookReceiver } from '../support/webhook-receiver';
import { alertKey, readingKey, SteadyTraffic, type AlertKey } from './steady-traffic';
import { testNamespace } from '../support/test-namespace';

/** What one fault did to the pipeline, counted end to end once the traffic has drained. */
export interface FaultOutcome {
  fault: string;
  /** From the fault's start to its repair (the restart issued, the block lifted, the endpoint back). */
  faultLastedS: number;
  acknowledged: number;
  kafka: { records: number; missing: number; duplicates: number };
  telemetry: { documents: number; missing: number; duplicates: number };
  alerts: { expected: number; indexed: number; missing: number; unexpected: number; duplicates: number };
  webhooks: { delivered: number; missing: number; redelivered: number };
  /** From the repair until a reading sent after it is searchable, at most FRESH_MS old; null if none ever was. */
  searchableAgainS: number | null;
  /** From the repair until every alert raised before it was delivered by webhook; null if one never was. */
  webhooksCaughtUpS: number | null;
  /** Apps that ended by themselves (a consumer that could not go on) and were started again by the harness. */
  supervisorRestarts: AppName[];
}

/** A reading searchable this soon after it was sent means the pipeline keeps up (issue 8's p99 target). */
const FRESH_MS = 3_000;
const VEHICLES = 20;
const RATE_HZ = 10;
/** How long traffic flows before the fault, and after its repair. */
const STEADY_MS = 15_000;
const DRAIN_TIMEOUT_MS = 5 * 60_000;
const RECOVERY_TIMEOUT_MS = 5 * 60_000;

/**
 * One fault on a pipeline of its own: gateway, cep and notifier as real processes in a fresh namespace, devices
 * publishing steadily, a webhook receiver, and a probe timing how fresh the searchable telemetry is.
 */
export class FaultRun {
  readonly namespace = testNamespace('fault');
  readonly receiver = new WebhookReceiver();
  readonly elasticsearch = new Client({ node: process.env.ELASTICSEARCH_URL!, requestTimeout: 5_000 });
  private readonly fleetId = `fleet-${randomBytes(3).toString('hex')}`;
  private readonly apps = new AppFleet(this.namespace);
  private readonly traffic = new SteadyTraffic({
    mqttUrl: process.env.MQTT_URL!,
    clientId: `${this.namespace}-devices`,
    fleetId: this.fleetId,
    vehicles: VEHICLES,
    rateHz: RATE_HZ,
  });
  /** Probe samples: when, and when the newest searchable reading was sent (undefined: none answered). */
  private readonly freshness: Array<{ at: number; newestSentAt: number | undefined }> = [];
  private readonly env: Partial<Record<AppName, NodeJS.ProcessEnv>> = {};
  private running: Partial<Record<AppName, AppProcess>> = {};
  private readonly killedByTest = new Set<AppProcess>();
  /** Apps that ended by themselves and were started again. */
  private readonly supervisorRestarts: AppName[] = [];
  private closing = false;
  private probing = true;
  private probe: Promise<void> | undefined;
  private faultAt = 0;
  private repairAt = 0;

  constructor(readonly fault: string) {}

  get telemetryAlias(): string {
    return datasetNames(this.namespace, 'v1').telemetry.alias;
  }

  async start(): Promise<void> {
    const webhookUrl = await this.receiver.start();
    this.env.gateway = {
      MQTT_CLIENT_ID: `${this.namespace}-gateway`,
      // Long enough to ride out the broker and gateway faults. With the default day, every run left a session per
      // fault queueing all later traffic on the shared broker, whose every-second autosave then filled the disk.
      GATEWAY_SESSION_EXPIRY_S: '300',
    };
    this.env.cep = { RULES_DIR: join('test', 'faults', 'rules') };
    this.env.notifier = {
      WEBHOOK_URL: webhookUrl,
      WEBHOOK_SECRET: `whsec_${randomBytes(24).toString('base64')}`,
      WEBHOOK_ALLOW_PRIVATE_NETWORK: 'true',
      // The defaults spread retries over ~6 h; scaled down so that an outage of minutes fits in the run, still
      // with enough attempts that none is parked before the endpoint is back.
      WEBHOOK_RETRY_INITIAL_DELAY_MS: '2000',
      WEBHOOK_RETRY_MAX_DELAY_MS: '15000',
      WEBHOOK_MAX_ATTEMPTS: '40',
    };
    for (const name of ['gateway', 'cep', 'notifier'] as const) await this.launch(name);
    await this.traffic.start();
    this.probe = this.probeFreshness();
    await this.until(() => this.lastLagMs() <= FRESH_MS, 90_000, 'the first readings to be searchable');
    await sleep(STEADY_MS);
  }

  /** Marks the fault's start; `repaired` marks its end. */
  faultStarts(): void {
    this.faultAt = Date.now();
  }

  repaired(): void {
    this.repairAt = Date.now();
  }

  kill(name: AppName): Promise<number | null> {
    const app = this.running[name]!;
    this.killedByTest.add(app);
    app.child.kill('SIGKILL');
    return app.exited;
  }

  /**
   * Starts the app and waits until it is ready; starts it again a second after it ends by itself (ready or not),
   * as compose's `restart: unless-stopped` does.
   */
  async launch(name: AppName): Promise<void> {
    const port = await freePort();
    const app = await this.apps.launch(name, this.env[name]!, { waitUntilReady: false, port });
    this.running[name] = app;
    void app.exited.then(async () => {
      if (this.closing || this.killedByTest.has(app)) return;
      this.supervisorRestarts.push(name);
      await sleep(1_000);
      if (!this.closing) await this.launch(name).catch(() => undefined);
    });
    await waitUntilReady(app, `http://127.0.0.1:${port}/health`);
  }

  /** What Elasticsearch does at its flood-stage disk watermark: every index of the run becomes read-only. */
  async blockWrites(blocked: boolean): Promise<void> {
    await this.elasticsearch.indices.putSettings({
      index: `${this.namespace}-*`,
      settings: { 'index.blocks.read_only_allow_delete': blocked ? true : null },
    });
  }

  /**
   * Lets traffic flow on after the repair until the pipeline is fresh again (or RECOVERY_TIMEOUT_MS), and STEADY_MS
   * more; then stops it, waits for the pipeline to drain and counts.
   */
  async finish(): Promise<FaultOutcome> {
    await this.until(() => this.searchableAgainS() !== null, RECOVERY_TIMEOUT_MS, 'recovery').catch(
      () => undefined,
    );
    await sleep(STEADY_MS);
    await this.traffic.stop(120_000);
    const expected = this.traffic.expectedAlerts();
    await this.until(() => this.drained(expected.size), DRAIN_TIMEOUT_MS, 'the pipeline to drain').catch(
      () => undefined, // the counts below say what is missing
    );
    this.probing = false;
    await this.probe;
    return this.count(expected);
  }

  async close(): Promise<void> {
    this.closing = true;
    this.probing = false;
    await this.probe;
    await this.traffic.stop(0);
    const exitCodes = await this.apps.stopAll();
    await this.receiver.stop();
    await removeNamespaceIndices(this.elasticsearch, this.namespace);
    // Unlike other tests, this one deletes its topics: a Kafka restarted after SIGKILL recovers every partition it
    // holds before it serves, so each run's leftovers would lengthen the next run's Kafka fault.
    await deleteNamespaceTopics(this.namespace);
    await this.elasticsearch.close();
    if (exitCodes.some((code) => code !== 0)) process.stdout.write(this.apps.recentOutput(200));
  }

  recentOutput(): string {
    return this.apps.recentOutput(60, true);
  }

  /** Everything the apps printed, to a file: an intermittent failure is explained by its own run or not at all. */
  keepOutput(path: string): void {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, `${this.apps.output.join('\n')}\n`);
  }

  private async count(expected: Map<AlertKey, { ts: number }>): Promise<FaultOutcome> {
    const acknowledged = this.traffic.acknowledged;
    const inKafka = await this.telemetryInKafka();
    const indexed = await this.documentKeys<TelemetryRecord>(this.telemetryAlias, (doc) =>
      readingKey(doc.vehicleId, doc.seq!),
    );
    const alerts = await this.documentKeys<AlertMessage>(
      datasetNames(this.namespace, 'v1').alerts.alias,
      (doc) => alertKey(doc.ruleId, doc.vehicleId, doc.startedAt),
    );
    const firstDelivery = this.firstWebhookDeliveries();
    const activeWebhooks = this.activeWebhooks().length;
    const raisedBeforeRepair = [...expected].filter(([, raising]) => raising.ts < this.repairAt);
    const deliveredAt = raisedBeforeRepair.map(([key]) => firstDelivery.get(key));
    return {
      fault: this.fault,
      faultLastedS: seconds(this.repairAt - this.faultAt),
      acknowledged: acknowledged.size,
      kafka: { records: inKafka.total, ...tally(acknowledged, inKafka) },
      telemetry: { documents: indexed.total, ...tally(acknowledged, indexed) },
      alerts: {
        expected: expected.size,
        indexed: alerts.total,
        missing: countMissing(new Set(expected.keys()), alerts.counts),
        unexpected: [...alerts.counts.keys()].filter((key) => !expected.has(key)).length,
        duplicates: alerts.total - alerts.counts.size,
      },
      webhooks: {
        delivered: firstDelivery.size,
        missing: countMissing(new Set(expected.keys()), firstDelivery),
        redelivered: activeWebhooks - firstDelivery.size,
      },
      searchableAgainS: this.searchableAgainS(),
      supervisorRestarts: [...this.supervisorRestarts],
      webhooksCaughtUpS: deliveredAt.some((at) => at === undefined)
        ? null
        : seconds(Math.max(0, ...deliveredAt.map((at) => at! - this.repairAt))),
    };
  }

  private async telemetryInKafka(): Promise<{ total: number; counts: Map<string, number> }> {
    const records = await readTopicToEnd(topicNames(this.namespace).telemetry, 120_000);
    return countBy(
      records.map((record) => decodeTelemetryRecord(record.value)!),
      (telemetry) => readingKey(telemetry.vehicleId, telemetry.seq!),
    );
  }

  private async documentKeys<T>(
    index: string,
    keyOf: (document: T) => string,
  ): Promise<{ total: number; counts: Map<string, number> }> {
    await this.elasticsearch.indices.refresh({ index });
    const documents: T[] = [];
    const scroll = this.elasticsearch.helpers.scrollDocuments<T>({
      index,
      size: 5_000,
      query: { term: { fleetId: this.fleetId } },
    });
    for await (const document of scroll) documents.push(document);
    return countBy(documents, keyOf);
  }

  private activeWebhooks(): Array<{ data: AlertMessage; receivedAt: number }> {
    return this.receiver.received
      .map((webhook) => ({
        ...(JSON.parse(webhook.body) as { type: string; data: AlertMessage }),
        ...webhook,
      }))
      .filter((webhook) => webhook.type === 'alert.active' && webhook.data.fleetId === this.fleetId);
  }

  private firstWebhookDeliveries(): Map<AlertKey, number> {
    const first = new Map<AlertKey, number>();
    for (const { data, receivedAt } of this.activeWebhooks()) {
      const key = alertKey(data.ruleId, data.vehicleId, data.startedAt);
      first.set(key, Math.min(first.get(key) ?? receivedAt, receivedAt));
    }
    return first;
  }

  private async drained(expectedAlerts: number): Promise<boolean> {
    const [telemetry, alerts] = await Promise.all(
      [this.telemetryAlias, datasetNames(this.namespace, 'v1').alerts.alias].map((index) =>
        this.elasticsearch.count({ index, query: { term: { fleetId: this.fleetId } } }).then(
          ({ count }) => count,
          () => 0,
        ),
      ),
    );
    return (
      telemetry! >= this.traffic.acknowledged.size &&
      alerts! >= expectedAlerts &&
      this.firstWebhookDeliveries().size >= expectedAlerts
    );
  }

  /** Samples every half second which reading of one vehicle is the newest searchable one. */
  private async probeFreshness(): Promise<void> {
    const vehicleId = this.traffic.vehicleIds[0]!;
    while (this.probing) {
      const newest = await this.elasticsearch
        .search<TelemetryRecord>({
          index: this.telemetryAlias,
          size: 1,
          query: { term: { vehicleId } },
          sort: [{ seq: 'desc' }],
          _source: ['seq'],
        })
        .then(
          ({ hits }) => hits.hits[0]?._source?.seq,
          () => undefined,
        );
      const sent = newest === undefined ? undefined : this.traffic.sent.get(readingKey(vehicleId, newest));
      this.freshness.push({ at: Date.now(), newestSentAt: sent?.ts });
      await sleep(500);
    }
  }

  private lastLagMs(): number {
    const last = this.freshness.at(-1);
    return last?.newestSentAt === undefined ? Infinity : last.at - last.newestSentAt;
  }

  /** Recovered: a reading sent after the repair is searchable, no older than FRESH_MS (normal latency included). */
  private searchableAgainS(): number | null {
    const fresh = this.freshness.find(
      ({ at, newestSentAt }) =>
        newestSentAt !== undefined && newestSentAt >= this.repairAt && at - newestSentAt <= FRESH_MS,
    );
    return fresh ? seconds(fresh.at - this.repairAt) : null;
  }

  private async until(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string) {
    const deadline = Date.now() + timeoutMs;
    while (!(await condition())) {
      if (Date.now() > deadline)
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${this.recentOutput()}`);
      await sleep(1_000);
    }
  }
}

function countBy<T>(
  items: readonly T[],
  keyOf: (item: T) => string,
): { total: number; counts: Map<string, number> } {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(keyOf(item), (counts.get(keyOf(item)) ?? 0) + 1);
  return { total: items.length, counts };
}

function countMissing(wanted: ReadonlySet<string>, present: ReadonlyMap<string, unknown>): number {
  return [...wanted].filter((key) => !present.has(key)).length;
}

/** Missing: acknowledged but absent; duplicates: copies beyond the first. */
function tally(
  acknowledged: ReadonlySet<string>,
  found: { total: number; counts: Map<string, number> },
): { missing: number; duplicates: number } {
  return {
    missing: countMissing(acknowledged, found.counts),
    duplicates: found.total - found.counts.size,
  };
}

const seconds = (ms: number) => Math.round(ms / 100) / 10;
