import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@elastic/elasticsearch';
import { Kafka, logLevel } from 'kafkajs';
import mqtt from 'mqtt';
import { consumerGroupId, topicNames, type AlertMessage, type TelemetryRecord } from '@fleetlog/contracts';
import { AppFleet } from '../support/app-fleet';
import { endBrokerSession } from '../support/broker-sessions';
import { readCarObdRecording, replaySchedule, type ReplayMessage } from '../support/carobd';
import {
  expectedAlerts,
  expectedMinutes,
  rateOf,
  transitionsOf,
  windowAverage,
  type ExpectedAlert,
  type ReferenceRule,
} from '../support/carobd-reference';
import { readTopic, readTopicToEnd, type ReadRecord } from '../support/kafka-reader';

/**
 * Real drives of a real car (carOBD: a 2014 Toyota Etios, ~2 readings a second) replayed through the whole
 * pipeline, device → Mosquitto → gateway → Kafka → cep → Elasticsearch and fleet.alerts, against alerts and
 * per-vehicle minute aggregates that this file works out from the CSV rows on its own (../support/carobd-reference):
 * once straight through, once with cep killed with SIGKILL halfway and restarted. Each run has its own namespace.
 *
 * The replay is in the log before cep starts, and the gateway is stopped (its broker session ended) by then. Event
 * times are hours old, and cep lets the wall clock advance the watermark of a partition it has read to the end: a
 * cep reading along while the replay is still arriving would see the rest as late. Likewise, the gateway of every
 * namespace subscribes to all devices (fleet/+/+/+), so what another test run publishes meanwhile lands in this
 * run's log too: the log is checked for such records before cep starts (see `checkLog`).
 */
/** The alert id as the fleet.alerts contract documents it: hash(ruleId, ruleVersion, fleetId, vehicleId, startedAt). */
function contractAlertId(alert: AlertMessage): string {
  const identity = [alert.ruleId, alert.ruleVersion, alert.fleetId, alert.vehicleId, alert.startedAt];
  return createHash('sha256').update(JSON.stringify(identity)).digest('hex').slice(0, 32);
}

describe('carOBD drives replayed through the pipeline', () => {
  const rulesDir = 'test/fixtures/carobd-rules';
  const stepMs = 500;
  const windowMs = 60_000;
  const latenessMs = 30_000;
  // Per file run, so that records of a concurrent run of this file elsewhere are told apart.
  const runTag = randomBytes(3).toString('hex');
  const drives = ['drive1.csv', 'drive3.csv', 'drive6.csv'].map((file) => ({
    vehicleId: `etios-${runTag}-${file.replace('.csv', '')}`,
    readings: readCarObdRecording(file),
  }));
  // Three hours ago, on a minute boundary: well within the gateway's accepted event age.
  const baseMs = Math.floor((Date.now() - 3 * 3_600_000) / windowMs) * windowMs;
  const schedule = replaySchedule(drives, baseMs, stepMs);
  const messagesOf = (vehicleId: string) => schedule.filter((message) => message.vehicleId === vehicleId);

  /** The rules in test/fixtures/carobd-rules, as this file reads them; the first test checks the files say so. */
  const referenceRules: ReferenceRule[] = [
    {
      id: 'carobd-speeding',
      version: 1,
      forMs: 5_000,
      cooldownMs: 0,
      holds: (messages, index) => messages[index]!.reading.speedKph > 50,
    },
    {
      id: 'carobd-fast-average',
      version: 1,
      forMs: 10_000,
      cooldownMs: 0,
      holds: (messages, index) => (windowAverage(messages, index, 'speedKph', 30_000) ?? -Infinity) > 40,
    },
    {
      id: 'carobd-harsh-braking',
      version: 1,
      forMs: 0,
      cooldownMs: 30_000,
      holds: (messages, index) => (rateOf(messages, index, 'speedKph') ?? Infinity) <= -16,
    },
  ];
  const alerts: ExpectedAlert[] = drives.flatMap(({ vehicleId }) =>
    referenceRules.flatMap((rule) => expectedAlerts(rule, vehicleId, messagesOf(vehicleId))),
  );
  const minutes = drives.flatMap(({ vehicleId }) =>
    expectedMinutes(vehicleId, messagesOf(vehicleId), windowMs),
  );

  const elasticsearch = new Client({ node: process.env.ELASTICSEARCH_URL! });
  const kafka = new Kafka({ brokers: process.env.KAFKA_BROKERS!.split(','), logLevel: logLevel.NOTHING });
  const runs: Run[] = [];

  interface Run {
    namespace: string;
    fleetId: string;
    apps: AppFleet;
  }

  const newRun = (): Run => {
    const namespace = `carobd-${randomBytes(4).toString('hex')}`;
    const run = {
      namespace,
      fleetId: `fleet-${randomBytes(3).toString('hex')}`,
      apps: new AppFleet(namespace),
    };
    runs.push(run);
    return run;
  };
  const cepEnv = (run: Run) => ({
    RULES_DIR: rulesDir,
    CEP_JOB_VERSION: 'v1',
    CEP_ALLOWED_LATENESS_MS: String(latenessMs),
    CEP_AGGREGATE_WINDOW_MS: String(windowMs),
    CEP_CLOCK_TICK_MS: '250',
    CEP_INSTANCE_ID: `${run.namespace}-cep`,
  });

  afterAll(async () => {
    for (const run of runs) {
      const exitCodes = await run.apps.stopAll();
      // Again, in case the test failed before its gateway's session was ended.
      await endBrokerSession(`${run.namespace}-gateway`);
      const logFile = join(tmpdir(), `fleetlog-${run.namespace}.log`);
      writeFileSync(logFile, run.apps.output.join('\n'));
      // Warnings and errors explain most failures (pino levels: 40 warn, 50 error, 60 fatal).
      const troubles = run.apps.output.filter((line) => /"level":[456]0/.test(line));
      process.stdout.write(
        `${run.namespace}: app output in ${logFile}; ${troubles.length} warnings or errors\n${troubles.join('\n')}\n`,
      );
      for (const dataset of ['telemetry', 'alerts', 'aggregates']) {
        // Named one by one: Elasticsearch refuses wildcard deletes by default.
        await elasticsearch.indices.delete(
          { index: `${run.namespace}-fleet-${dataset}-v1` },
          { ignore: [404] },
        );
        await elasticsearch.indices.deleteIndexTemplate(
          { name: `${run.namespace}-fleet-${dataset}` },
          { ignore: [404] },
        );
      }
      if (exitCodes.some((code) => code !== 0)) process.stdout.write(run.apps.recentOutput(200));
      expect(exitCodes.every((code) => code === 0)).toBe(true);
    }
    await elasticsearch.close();
  });

  it('holds rules that the reference model reads as this file does, and that fire on these drives', () => {
    const files = readdirSync(rulesDir).filter((name) => name.endsWith('.json'));
    const rules = files.map((name) => JSON.parse(readFileSync(join(rulesDir, name), 'utf8')));
    const temporal = (rule: Record<string, unknown>) => ({
      id: rule.id,
      version: rule.version,
      enabled: rule.enabled,
      conditions: rule.conditions,
      for: rule.for,
      cooldown: rule.cooldown,
      clearAfter: rule.clearAfter,
      count: rule.count,
      then: rule.then,
      absence: rule.absence,
      scope: rule.scope,
    });
    const leaf = (fact: string, operator: string, value: number, params?: object) => ({
      all: [{ fact, ...(params && { params }), operator, value }],
    });
    expect(rules.map(temporal).sort((a, b) => String(a.id).localeCompare(String(b.id)))).toEqual([
      {
        id: 'carobd-fast-average',
        version: 1,
        conditions: leaf('window', 'greaterThan', 40, { fn: 'avg', field: 'speedKph', size: '30s' }),
        for: '10s',
      },
      {
        id: 'carobd-harsh-braking',
        version: 1,
        conditions: leaf('rate', 'lessThanInclusive', -16, { field: 'speedKph' }),
        cooldown: '30s',
      },
      { id: 'carobd-speeding', version: 1, conditions: leaf('speedKph', 'greaterThan', 50), for: '5s' },
    ]);
    // Enough happens on these drives for the comparison to mean something: every rule fires several times (47
    // alerts in all), and 77 minutes of driving each get their document.
    const count = (ruleId: string) => alerts.filter((alert) => alert.ruleId === ruleId).length;
    expect(referenceRules.map(({ id }) => count(id) >= 5)).toEqual(referenceRules.map(() => true));
    expect(minutes.length).toBeGreaterThan(70);
    expect(schedule).toHaveLength(2709 + 2926 + 3468);
  });

  it('yields exactly the alerts and minute aggregates computed from the CSV', async () => {
    const run = newRun();
    await replayIntoLog(run);
    await run.apps.launch('cep', cepEnv(run));
    const results = await settledResults(run);
    expectResultsOfTheReplay(run, results);
  });

  it('yields the identical set when cep is killed with SIGKILL halfway through and restarted', async () => {
    const run = newRun();
    await replayIntoLog(run);
    const cep = await run.apps.launch('cep', cepEnv(run));
    // Halfway: once cep has committed part of a vehicle's records, with the rest still to do. The restarted cep
    // must then rebuild that vehicle's windows, open minute and alert state from its checkpoint, re-reading records
    // it must not emit again, and carry on from the committed offset.
    let committed = await committedOffsets(run);
    const midPartition = () =>
      Object.values(committed).some(({ committed: at, end }) => Number(at) > 0 && Number(at) < Number(end));
    for (const deadline = Date.now() + 30_000; !midPartition(); committed = await committedOffsets(run)) {
      if (Date.now() > deadline)
        throw new Error(`cep committed no partition halfway: ${JSON.stringify(committed)}`);
    }
    cep.child.kill('SIGKILL');
    await cep.exited;
    // Stored is not committed: the records of a batch killed before its commit are stored and will be read again.
    const stored = await storedTelemetry(run);
    committed = await committedOffsets(run);
    process.stdout.write(
      `${run.namespace}: cep killed with ${stored} of ${schedule.length} records stored; committed offsets then: ${JSON.stringify(committed)}\n`,
    );
    const restartedAt = Date.now();
    await run.apps.launch('cep', cepEnv(run));
    process.stdout.write(`${run.namespace}: restarted cep ready after ${Date.now() - restartedAt} ms\n`);

    const results = await settledResults(run);
    expectResultsOfTheReplay(run, results);
  });

  /** Publishes the replay through the run's own gateway, then stops it, so that the log holds what it will hold. */
  async function replayIntoLog(run: Run): Promise<void> {
    const gateway = await run.apps.launch('gateway', { MQTT_CLIENT_ID: `${run.namespace}-gateway` });
    const device = await mqtt.connectAsync(process.env.MQTT_URL!, {
      protocolVersion: 5,
      clientId: `${run.namespace}-device`,
    });
    const started = Date.now();
    try {
      // QoS 1, all at once, no real-time pacing: the gateway takes them as fast as it can.
      await Promise.all(
        schedule.map((message) =>
          device.publishAsync(
            `fleet/${run.fleetId}/${message.vehicleId}/telemetry`,
            JSON.stringify(payloadOf(run, message)),
            { qos: 1 },
          ),
        ),
      );
    } finally {
      await device.endAsync();
    }
    process.stdout.write(
      `${run.namespace}: ${schedule.length} messages published in ${Date.now() - started} ms\n`,
    );
    // A PUBACK to the device only says that Mosquitto has the message: wait until the gateway has put all of them
    // in the log before stopping it, or the rest would wait in its session on the broker.
    const telemetryTopic = topicNames(run.namespace).telemetry;
    const ours = (record: ReadRecord) => JSON.parse(record.value.toString()).fleetId === run.fleetId;
    let counted = 0;
    let found = 0;
    await readTopic(
      telemetryTopic,
      (records) => {
        for (; counted < records.length; counted++) if (ours(records[counted]!)) found++;
        return found >= schedule.length;
      },
      30_000,
    );
    expect(await gateway.stop()).toBe(0);
    await endBrokerSession(`${run.namespace}-gateway`);
    checkLog(run, await readTopicToEnd(telemetryTopic, 30_000));
  }

  function payloadOf(run: Run, { vehicleId, seq, time, reading }: ReplayMessage) {
    return { vehicleId, fleetId: run.fleetId, ts: new Date(time).toISOString(), seq, ...reading };
  }

  /**
   * Every message is in the log once, each vehicle's on one partition in order. A record of another run (see the
   * file comment) is harmless unless one of ours comes after it on the partition with an event time more than the
   * allowed lateness before its event time: cep would count ours as late, and the expectations would not hold.
   */
  function checkLog(run: Run, log: ReadRecord[]): void {
    const records = log
      .map((record) => ({ ...record, telemetry: JSON.parse(record.value.toString()) as TelemetryRecord }))
      .sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)));
    const ours = records.filter((record) => record.telemetry.fleetId === run.fleetId);
    expect(ours).toHaveLength(schedule.length);
    expect(new Set(ours.map(({ telemetry }) => `${telemetry.vehicleId}#${telemetry.seq}`)).size).toBe(
      schedule.length,
    );
    for (const { vehicleId } of drives) {
      const own = ours.filter((record) => record.telemetry.vehicleId === vehicleId);
      expect(new Set(own.map((record) => record.partition)).size).toBe(1);
      expect(own.map((record) => record.telemetry.seq)).toEqual(own.map((_, index) => index));
    }
    const foreign = records.filter((record) => record.telemetry.fleetId !== run.fleetId);
    if (foreign.length === 0) return;
    const harmful: string[] = [];
    const newestForeign = new Map<number, number>();
    for (const record of records) {
      const time = Date.parse(record.telemetry.ts);
      const newest = newestForeign.get(record.partition) ?? -Infinity;
      if (record.telemetry.fleetId !== run.fleetId)
        newestForeign.set(record.partition, Math.max(newest, time));
      else if (time < newest - latenessMs) harmful.push(`${record.partition}-${record.offset}`);
    }
    const fleets = [...new Set(foreign.map((record) => record.telemetry.fleetId))];
    process.stdout.write(
      `${run.namespace}: ${foreign.length} records of other runs in the log (fleets ${fleets})\n`,
    );
    if (harmful.length > 0) {
      throw new Error(
        `another test run published while this one replayed (fleets ${fleets}): its gateway's subscription fleet/+/+/+ ` +
          `put ${foreign.length} of its records in this namespace's log, and ${harmful.length} of ours (e.g. ` +
          `${harmful.slice(0, 5)}) now sit behind newer event times, so cep would take them as late`,
      );
    }
  }

  interface Results {
    alertDocuments: Array<{ id: string; alert: AlertMessage }>;
    alertRecords: Array<{ partition: number; offset: string; alert: AlertMessage }>;
    minuteDocuments: Array<{ id: string; minute: Record<string, unknown> }>;
  }

  /**
   * What cep wrote once it is done. The last minute windows close on the first clock tick after cep has read the
   * whole log, after every batch (and its alerts) is stored: all minute documents there means everything is.
   */
  async function settledResults(run: Run): Promise<Results> {
    const search = async <T>(dataset: string) => {
      await elasticsearch.indices.refresh({ index: `${run.namespace}-fleet-${dataset}` });
      const found = await elasticsearch.search<T>({
        index: `${run.namespace}-fleet-${dataset}`,
        query: { term: { fleetId: run.fleetId } },
        size: 10_000,
      });
      return found.hits.hits.map((hit) => ({ id: hit._id!, source: hit._source! }));
    };
    // Until every minute document is there; or, should some never come, until cep has stored every record and
    // then written nothing more for 3 s (it ticks every 250 ms), so that a failure shows without a long wait.
    const deadline = Date.now() + 45_000;
    let quietSince: number | undefined;
    let written = -1;
    while (Date.now() < deadline) {
      const count = (await search('aggregates')).length;
      if (count >= minutes.length) break;
      if (count !== written || (await storedTelemetry(run)) < schedule.length) quietSince = undefined;
      else if ((quietSince ??= Date.now()) < Date.now() - 3_000) break;
      written = count;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const alertRecords = (await readTopicToEnd(topicNames(run.namespace).alerts, 30_000))
      .map((record) => ({ ...record, alert: JSON.parse(record.value.toString()) as AlertMessage }))
      .filter(({ alert }) => alert.fleetId === run.fleetId);
    return {
      alertDocuments: (await search<AlertMessage>('alerts')).map(({ id, source }) => ({ id, alert: source })),
      alertRecords,
      minuteDocuments: (await search<Record<string, unknown>>('aggregates')).map(({ id, source }) => ({
        id,
        minute: source,
      })),
    };
  }

  function expectResultsOfTheReplay(run: Run, results: Results): void {
    const byKey = <T extends { ruleId: string; vehicleId: string; startedAt: string; status?: string }>(
      a: T,
      b: T,
    ) =>
      `${a.vehicleId} ${a.ruleId} ${a.startedAt} ${a.status}`.localeCompare(
        `${b.vehicleId} ${b.ruleId} ${b.startedAt} ${b.status}`,
      );
    const summary = (alert: AlertMessage) => ({
      ruleId: alert.ruleId,
      ruleVersion: alert.ruleVersion,
      vehicleId: alert.vehicleId,
      startedAt: alert.startedAt,
      raisedAt: alert.raisedAt,
      ...(alert.clearedAt !== undefined && { clearedAt: alert.clearedAt }),
      status: alert.status,
    });

    // fleet.alerts: every transition exactly once. Repeats are listed with where they are in the log.
    const seen = new Map<string, Array<{ partition: number; offset: string; lineage: unknown }>>();
    for (const { partition, offset, alert } of results.alertRecords) {
      const key = `${alert.alertId}.${alert.status}`;
      seen.set(key, [...(seen.get(key) ?? []), { partition, offset, lineage: alert.lineage }]);
    }
    const repeated = [...seen].filter(([, copies]) => copies.length > 1);
    expect({ repeatedTransitions: repeated }).toEqual({ repeatedTransitions: [] });
    const expectedTransitions = alerts.flatMap(transitionsOf).sort(byKey);
    expect(results.alertRecords.map(({ alert }) => summary(alert)).sort(byKey)).toEqual(expectedTransitions);

    // The alerts index: one document per alert, under its id, in its latest state.
    const expectedDocuments = alerts
      .map((alert) => ({ ...alert, status: alert.clearedAt ? 'cleared' : 'active' }))
      .sort(byKey);
    expect(results.alertDocuments.map(({ alert }) => summary(alert)).sort(byKey)).toEqual(expectedDocuments);
    // Ids as the contract defines them, so a restarted cep (or a replay) reproduces each alert's id.
    const mismatched = results.alertDocuments.filter(
      ({ id, alert }) => id !== alert.alertId || id !== contractAlertId(alert),
    );
    expect(mismatched).toEqual([]);
    const idsOnTheTopic = new Set(results.alertRecords.map(({ alert }) => alert.alertId));
    expect(new Set(results.alertDocuments.map(({ id }) => id))).toEqual(idsOnTheTopic);

    // One aggregate document per vehicle and minute; decimals as cep rounds them (6 places).
    const close = (actual: unknown, expected: number) =>
      typeof actual === 'number' && Math.abs(actual - expected) <= 1e-6 ? expected : actual;
    const fields = [
      'messages',
      'avgSpeedKph',
      'maxSpeedKph',
      'maxRpm',
      'maxCoolantTempC',
      'distanceKm',
      'idleSeconds',
      'harshEvents',
      'fuelUsedPct',
    ] as const;
    const expectedMinuteDocuments = minutes
      .map((minute) => ({
        id: `${run.fleetId}/${minute.vehicleId}/${minute['@timestamp']}`,
        windowEnd: new Date(Date.parse(minute['@timestamp']) + windowMs).toISOString(),
        ...Object.fromEntries(fields.map((field) => [field, minute[field]])),
      }))
      .sort((a, b) => a.id.localeCompare(b.id));
    const expectedById = new Map(expectedMinuteDocuments.map((document) => [document.id, document]));
    const actualMinuteDocuments = results.minuteDocuments
      .map(({ id, minute }) => {
        const expected = expectedById.get(id) as Record<string, number> | undefined;
        return {
          id,
          windowEnd: minute.windowEnd,
          ...Object.fromEntries(
            fields.map((field) => [field, expected ? close(minute[field], expected[field]!) : minute[field]]),
          ),
        };
      })
      .sort((a, b) => a.id.localeCompare(b.id));
    expect(actualMinuteDocuments).toEqual(expectedMinuteDocuments);
  }

  /** Telemetry documents cep stored: every record it processed, committed or not. */
  async function storedTelemetry(run: Run): Promise<number> {
    await elasticsearch.indices.refresh({ index: `${run.namespace}-fleet-telemetry` });
    const { count } = await elasticsearch.count({
      index: `${run.namespace}-fleet-telemetry`,
      query: { term: { fleetId: run.fleetId } },
    });
    return count;
  }

  async function committedOffsets(run: Run): Promise<Record<number, { committed: string; end: string }>> {
    const admin = kafka.admin();
    await admin.connect();
    try {
      const topic = topicNames(run.namespace).telemetry;
      const groupId = consumerGroupId(run.namespace, 'cep-v1');
      const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
      const ends = await admin.fetchTopicOffsets(topic);
      return Object.fromEntries(
        ends
          .filter(({ high }) => high !== '0')
          .map(({ partition, high }) => [
            partition,
            {
              committed: committed!.partitions.find((entry) => entry.partition === partition)?.offset ?? '-1',
              end: high,
            },
          ]),
      );
    } finally {
      await admin.disconnect();
    }
  }
});
