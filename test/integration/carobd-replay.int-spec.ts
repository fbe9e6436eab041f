import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@elastic/elasticsearch';
import { AssignerProtocol, Kafka, logLevel, type Admin } from 'kafkajs';
import mqtt from 'mqtt';
import { consumerGroupId, decodeTelemetryRecord, topicNames, type AlertMessage } from '@fleetlog/contracts';
import { endBrokerSession } from '@fleetlog/mqtt';
import { AppFleet } from '../support/app-fleet';
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
import { openTransactionTails, readTopic, readTopicToEnd, type ReadRecord } from '../support/kafka-reader';
import { removeNamespaceIndices } from '../support/namespace-cleanup';
import { testNamespace } from '../support/test-namespace';

/**
 * Real drives of a real car (carOBD: a 2014 Toyota Etios, ~2 readings a second) replayed through the whole
 * pipeline, device → Mosquitto → gateway → Kafka → cep → Elasticsearch and fleet.alerts, against alerts and
 * per-vehicle minute aggregates that this file works out from the CSV rows on its own (../support/carobd-reference):
 * once straight through, once with cep killed with SIGKILL halfway and restarted, once with two cep instances sharing
 * the partitions and one of them killed for good. Each run has its own namespace.
 *
 * The replay is in the log before cep starts (or, for the two instances, before cep can read any of it; see there),
 * and the gateway is stopped (its broker session ended) by then. Event
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

  const newRun = (fleetId = `fleet-${randomBytes(3).toString('hex')}`): Run => {
    const namespace = testNamespace('carobd');
    const run = {
      namespace,
      fleetId,
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
    // Batches of a few dozen records: many commits, so that a kill lands halfway through a partition.
    CEP_FETCH_MAX_BYTES_PER_PARTITION: '16384',
  });

  afterAll(async () => {
    for (const run of runs) {
      const exitCodes = await run.apps.stopAll();
      const logFile = join(tmpdir(), `fleetlog-${run.namespace}.log`);
      writeFileSync(logFile, run.apps.output.join('\n'));
      // Warnings and errors explain most failures (pino levels: 40 warn, 50 error, 60 fatal).
      const troubles = run.apps.output.filter((line) => /"level":[456]0/.test(line));
      process.stdout.write(
        `${run.namespace}: app output in ${logFile}; ${troubles.length} warnings or errors\n${troubles.join('\n')}\n`,
      );
      await removeNamespaceIndices(elasticsearch, run.namespace);
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

  it('yields the identical set when two cep instances share the partitions and one is SIGKILLed', async () => {
    const run = newRun();
    // cep reads the whole log in about a second: a second instance joining the group after the first has started
    // would find the work done. So both join while the log is still empty, and the replay goes through a gateway of
    // a namespace of its own (same fleet) and is then copied, each drive in order, into this namespace's log in one
    // Kafka transaction: cep reads read_committed, so the whole replay appears to it at once.
    const staging = newRun(run.fleetId);
    await replayIntoLog(staging);
    const labels = ['cep-a', 'cep-b'];
    const ceps = await Promise.all(
      labels.map((label) =>
        run.apps.launch('cep', { ...cepEnv(run), CEP_INSTANCE_ID: `${run.namespace}-${label}` }, { label }),
      ),
    );
    const cepOf = (label: string) => ceps[labels.indexOf(label)]!;
    const admin = kafka.admin();
    await admin.connect();
    try {
      const split = await groupSettled(
        admin,
        run,
        (members) => members.length === 2 && members.every(({ partitions }) => partitions.length === 3),
        30_000,
      );
      process.stdout.write(`${run.namespace}: the group split the partitions ${JSON.stringify(split)}\n`);

      // Each drive on a partition of its own, spread over both instances (drive1 and drive6 on one, drive3 on the
      // other), so that both have work and the survivor holds state of its own when it takes over; the gateway's
      // partitioner, hashing the random vehicle ids, may as well have put all of them on one instance's partitions.
      const partitionOf = new Map(
        drives.map(({ vehicleId }, index) => [
          vehicleId,
          split[index % split.length]!.partitions[Math.floor(index / split.length)]!,
        ]),
      );
      process.stdout.write(
        `${run.namespace}: drives copied to partitions ${JSON.stringify([...partitionOf])}\n`,
      );
      const ends = await copyIntoLog(staging, run, admin, (vehicleId) => partitionOf.get(vehicleId)!);
      // Partway: once an instance has committed part of one of its partitions, with the rest still to do. The
      // survivor must then rebuild that partition's windows, open minutes and alert state from the checkpoint the
      // killed one committed, re-reading records it must not emit again, and carry on from the committed offset.
      const telemetryTopic = topicNames(run.namespace).telemetry;
      const groupId = consumerGroupId(run.namespace, 'cep-v1');
      let midPartition: number | undefined;
      for (const deadline = Date.now() + 15_000; midPartition === undefined;) {
        if (Date.now() > deadline)
          throw new Error(
            `cep committed no partition partway: ${JSON.stringify(await committedOffsets(run))}`,
          );
        const [committed] = await admin.fetchOffsets({ groupId, topics: [telemetryTopic] });
        midPartition = committed!.partitions.find(
          ({ partition, offset }) => BigInt(offset) > 0n && BigInt(offset) < (ends.get(partition) ?? 0n),
        )?.partition;
        if (midPartition === undefined) await new Promise((resolve) => setTimeout(resolve, 5));
      }
      const victim = split.find(({ partitions }) => partitions.includes(midPartition!))!;
      const survivor = split.find((member) => member !== victim)!;
      cepOf(victim.label).child.kill('SIGKILL');
      await cepOf(victim.label).exited;
      const killedAt = Date.now();
      const stored = await storedTelemetry(run);
      process.stdout.write(
        `${run.namespace}: ${victim.label} (partitions ${victim.partitions}) killed on partition ${midPartition} ` +
          `with ${stored} of ${schedule.length} records stored; committed offsets then: ` +
          `${JSON.stringify(await committedOffsets(run))}\n`,
      );

      // Not restarted: the group drops the killed member once its session times out, and the survivor takes over.
      await groupSettled(
        admin,
        run,
        (members) =>
          members.length === 1 && members[0]!.label === survivor.label && members[0]!.partitions.length === 6,
        60_000,
      );
      process.stdout.write(
        `${run.namespace}: ${survivor.label} owns all partitions ${Date.now() - killedAt} ms after the kill\n`,
      );
      // A transaction the killed instance left open on fleet.alerts hides, from read_committed readers, every record
      // after its own on those partitions until the broker aborts it on its timeout.
      for (
        let tails = await openTransactionTails(topicNames(run.namespace).alerts, 10_000);
        tails.length > 0;
      ) {
        if (Date.now() > killedAt + 80_000)
          throw new Error(
            `fleet.alerts: transactions still open 80 s after the kill: ${JSON.stringify(tails)}`,
          );
        process.stdout.write(
          `${run.namespace}: open transactions on fleet.alerts: ${JSON.stringify(tails)}\n`,
        );
        await new Promise((resolve) => setTimeout(resolve, 2_000));
        tails = await openTransactionTails(topicNames(run.namespace).alerts, 10_000);
      }
    } finally {
      await admin.disconnect();
    }

    const results = await settledResults(run);
    expectResultsOfTheReplay(run, results);
    checkLog(run, await readTopicToEnd(topicNames(run.namespace).telemetry, 30_000));
  });

  interface GroupMember {
    /** The cep instance, as its "partition assigned" log lines tell. */
    label: string;
    partitions: number[];
  }

  /**
   * The telemetry partitions of the run's cep group per member, once the group is stable, `settled` holds, and each
   * member's partitions are all ones its cep instance was the last to log as assigned: kafkajs names both instances
   * alike (clientId fleetlog-cep-v1), so the log lines tell which process a member is.
   */
  async function groupSettled(
    admin: Admin,
    run: Run,
    settled: (members: GroupMember[]) => boolean,
    timeoutMs: number,
  ): Promise<GroupMember[]> {
    const topic = topicNames(run.namespace).telemetry;
    const groupId = consumerGroupId(run.namespace, 'cep-v1');
    let seen = '';
    for (const deadline = Date.now() + timeoutMs; Date.now() < deadline;) {
      const {
        groups: [group],
      } = await admin.describeGroups([groupId]);
      const owners = new Map<number, string>();
      for (const line of run.apps.output) {
        const [, label, json] = /^(cep-\w+): (\{.*\})$/.exec(line) ?? [];
        if (!label || !json) continue;
        const entry = JSON.parse(json) as { msg?: string; partition?: number; job?: string };
        // The job's partitions, not the telemetry indexer's (a group of its own).
        if (entry.msg === 'partition assigned' && entry.job === 'v1') owners.set(entry.partition!, label);
      }
      const members = group!.members.map(({ memberAssignment }) => {
        const partitions = [
          ...(AssignerProtocol.MemberAssignment.decode(memberAssignment)?.assignment[topic] ?? []),
        ];
        partitions.sort((a, b) => a - b);
        const labels = new Set(partitions.map((partition) => owners.get(partition)));
        return { label: labels.size === 1 ? ([...labels][0] ?? '?') : '?', partitions };
      });
      seen = `${group!.state} ${JSON.stringify(members)}`;
      const distinct = new Set(members.map(({ label }) => label)).size === members.length;
      if (
        group!.state === 'Stable' &&
        distinct &&
        members.every(({ label }) => label !== '?') &&
        settled(members)
      )
        return members;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    throw new Error(`${groupId} not as expected within ${timeoutMs} ms; last seen: ${seen}`);
  }

  /**
   * Copies the run's own records from one namespace's telemetry log into another's, in their order, each vehicle's
   * to the partition `partitionOf` says, in one transaction. Resolves once read_committed readers can see them, with
   * the end of each partition then (past the commit marker).
   */
  async function copyIntoLog(
    from: Run,
    to: Run,
    admin: Admin,
    partitionOf: (vehicleId: string) => number,
  ): Promise<Map<number, bigint>> {
    const topic = topicNames(to.namespace).telemetry;
    const records = (await readTopicToEnd(topicNames(from.namespace).telemetry, 30_000))
      .map((record) => ({ ...record, telemetry: decodeTelemetryRecord(record.value)! }))
      .filter(({ telemetry }) => telemetry.fleetId === from.fleetId)
      .sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)))
      .map(({ telemetry, key, value }) => ({ partition: partitionOf(telemetry.vehicleId), key, value }));
    const producer = kafka.producer({
      transactionalId: `${to.namespace}-replay`,
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await producer.connect();
    try {
      const transaction = await producer.transaction();
      try {
        // In slices: a drive's records in one request would make a record batch past the broker's 1 MB limit.
        for (let at = 0; at < records.length; at += 500) {
          await transaction.send({
            topic,
            messages: records
              .slice(at, at + 500)
              .map(({ partition, key, value }) => ({ partition, key, value })),
          });
        }
        await transaction.commit();
      } catch (error) {
        await transaction.abort().catch(() => undefined);
        throw error;
      }
    } finally {
      await producer.disconnect();
    }
    // The commit returns before the broker has written the markers: until then the last stable offsets stay put.
    const counts = new Map<number, bigint>();
    for (const { partition } of records) counts.set(partition, (counts.get(partition) ?? 0n) + 1n);
    for (const deadline = Date.now() + 10_000; ;) {
      const ends = new Map(
        (await admin.fetchTopicOffsets(topic)).map(({ partition, high }) => [partition, BigInt(high)]),
      );
      if ([...counts].every(([partition, count]) => (ends.get(partition) ?? 0n) > count)) return ends;
      if (Date.now() > deadline) throw new Error(`${topic}: the copy not visible within 10 s: ${[...ends]}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

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
    const ours = (record: ReadRecord) => decodeTelemetryRecord(record.value)?.fleetId === run.fleetId;
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
    await endBrokerSession(process.env.MQTT_URL!, `${run.namespace}-gateway`);
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
      .map((record) => ({ ...record, telemetry: decodeTelemetryRecord(record.value)! }))
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
    // Until every minute document is there; or, should some never come, until cep's job has committed every record
    // and then written nothing more for 3 s (it ticks every 250 ms), so that a failure shows without a long wait.
    // (Stored telemetry says nothing of the job: the telemetry indexer, a group of its own, may be done long before.)
    const deadline = Date.now() + 45_000;
    let quietSince: number | undefined;
    let written = -1;
    while (Date.now() < deadline) {
      const count = (await search('aggregates')).length;
      if (count >= minutes.length) break;
      if (count !== written || !(await jobCommittedAll(run))) quietSince = undefined;
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

  /** Whether cep's job has committed every partition to its end (a transaction's commit marker may follow). */
  async function jobCommittedAll(run: Run): Promise<boolean> {
    return Object.values(await committedOffsets(run)).every(
      ({ committed, end }) => BigInt(committed) >= BigInt(end) - 1n,
    );
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
