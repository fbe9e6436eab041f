import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { Client } from '@elastic/elasticsearch';
import { Kafka, Partitioners, logLevel, type Consumer } from 'kafkajs';
import { topicNames, type AlertMessage, type JobRecord } from '@fleetlog/contracts';
import { datasetNames, jobDatasets, provisionIndices } from '@fleetlog/elasticsearch';
import { callApi } from '../support/api-client';
import { alertMessage } from '../support/alert-message';
import { AppFleet } from '../support/app-fleet';
import { readTopicToEnd } from '../support/kafka-reader';
import { tearDownNamespace } from '../support/namespace-cleanup';
import { testNamespace } from '../support/test-namespace';

const run = promisify(execFile);

/**
 * The replay jobs' control side on the real Kafka and Elasticsearch, without cep: the test plays cep's part itself,
 * with consumer groups `cep-<version>` that commit offsets on fleet.telemetry, the first job's record on fleet.jobs,
 * and alert documents indexed into each version's alert index.
 */
describe('replays API', () => {
  const namespace = testNamespace('it');
  const adminKey = `it-admin-${randomBytes(24).toString('hex')}`;
  const topics = topicNames(namespace);
  const apps = new AppFleet(namespace);
  const kafka = new Kafka({ brokers: process.env.KAFKA_BROKERS!.split(','), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  const elasticsearch = new Client({ node: process.env.ELASTICSEARCH_URL! });
  const groupOf = (version: string) => `${namespace}.cep-${version}`;
  const maxLag = 5;
  let api: string;
  /** The live job v1, as cep would run it: a member of cep-v1 that has read and committed the whole log. */
  let liveJob: Consumer | undefined;

  const call = (method: string, path: string, body?: unknown, key = adminKey) =>
    callApi(api, method, path, { key, body });

  function rule(id: string, threshold: number) {
    return {
      id,
      name: 'Speed above a threshold',
      severity: 'warning',
      conditions: { all: [{ fact: 'speedKph', operator: 'greaterThan', value: threshold }] },
      message: '{{vehicleId}} at {{speedKph}} km/h',
    };
  }

  async function indexAlerts(version: string, alerts: AlertMessage[]): Promise<void> {
    const index = datasetNames(namespace, version).alerts.index;
    await elasticsearch.bulk({
      refresh: true,
      operations: alerts.flatMap((document) => [
        { index: { _index: index, _id: document.alertId } },
        { ...document, '@timestamp': document.raisedAt, jobVersion: version },
      ]),
    });
  }

  async function logEnds(): Promise<Map<number, number>> {
    const offsets = await admin.fetchTopicOffsets(topics.telemetry);
    return new Map(offsets.map(({ partition, high }) => [partition, Number(high)]));
  }

  async function committedOffsets(version: string): Promise<Map<number, number>> {
    const [offsets] = await admin.fetchOffsets({ groupId: groupOf(version), topics: [topics.telemetry] });
    return new Map(
      offsets!.partitions
        .filter(({ offset }) => Number(offset) >= 0)
        .map(({ partition, offset }) => [partition, Number(offset)]),
    );
  }

  /** A job that is not running (no members) but has read up to `offsetOf(partition, end)`. */
  async function commitAs(version: string, offsetOf: (end: number) => number): Promise<Map<number, number>> {
    const ends = await logEnds();
    const partitions = [...ends].map(([partition, end]) => ({ partition, offset: String(offsetOf(end)) }));
    await admin.setOffsets({ groupId: groupOf(version), topic: topics.telemetry, partitions });
    return new Map(partitions.map(({ partition, offset }) => [partition, Number(offset)]));
  }

  async function until<T>(
    read: () => Promise<T>,
    done: (value: T) => boolean,
    timeoutMs = 30_000,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await read();
      if (done(value) || Date.now() > deadline) return value;
      await sleep(200);
    }
  }

  beforeAll(async () => {
    await apps.launch('api', {
      API_ADMIN_KEY: adminKey,
      REPLAY_PROMOTE_MAX_LAG: String(maxLag),
      REPLAY_PROMOTE_STOP_TIMEOUT_MS: '30000',
    });
    api = apps.output
      .filter((line) => line.startsWith('api: {'))
      .map((line) => JSON.parse(line.slice('api: '.length)) as { msg?: string; http?: string })
      .find((entry) => entry.msg === 'started')!.http!;
    await admin.connect();

    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    await producer.send({
      topic: topics.telemetry,
      messages: Array.from({ length: 60 }, (_, index) => ({
        key: `car-${index % 12}`,
        value: JSON.stringify({ vehicleId: `car-${index % 12}`, fleetId: 'acme', seq: index }),
      })),
    });
    const v1: JobRecord = {
      version: 'v1',
      state: 'live',
      changedBy: 'cep',
      changedAt: new Date().toISOString(),
    };
    await producer.send({ topic: topics.jobs, messages: [{ key: 'v1', value: JSON.stringify(v1) }] });
    await producer.disconnect();

    await provisionIndices(elasticsearch, namespace, 'v1');
    await provisionIndices(elasticsearch, namespace, 'v2');

    liveJob = kafka.consumer({ groupId: groupOf('v1'), maxWaitTimeInMs: 100 });
    await liveJob.connect();
    await liveJob.subscribe({ topic: topics.telemetry, fromBeginning: true });
    await liveJob.run({ autoCommitInterval: 200, eachMessage: async () => undefined });
    const ends = await logEnds();
    const committed = await until(
      () => committedOffsets('v1'),
      (offsets) => [...ends].every(([partition, end]) => end === 0 || offsets.get(partition) === end),
    );
    expect([...committed.values()].reduce((sum, offset) => sum + offset, 0)).toBe(60);
    expect(
      (
        await until(
          () => call('GET', '/replays/v1'),
          (answer) => answer.status === 200,
        )
      ).status,
    ).toBe(200);
  });

  afterAll(async () => {
    await liveJob?.disconnect();
    await admin.disconnect();
    const exitCodes = await tearDownNamespace(apps, elasticsearch, namespace, ['v1', 'v2', 'v3', 'v4']);
    expect(exitCodes.every((code) => code === 0)).toBe(true);
  });

  it('refuses broken rules with 422 naming their JSON paths, writes the replay to fleet.jobs, refuses it twice', async () => {
    expect((await call('POST', '/rules', rule('it-kept', 150))).status).toBe(201);
    expect((await call('POST', '/rules', rule('it-old', 90))).status).toBe(201);

    const broken = rule('it-broken', 100);
    (broken.conditions.all[0] as { operator: string }).operator = 'bigger';
    const refused = await call('POST', '/replays', { version: 'v2', rules: [rule('it-speed', 100), broken] });
    expect(refused.status).toBe(422);
    expect(refused.body.errors.map((error: { path: string }) => error.path)).toEqual([
      '/rules/1/conditions/all/0/operator',
    ]);
    expect((await call('GET', '/replays/v2')).status).toBe(404);

    const started = await call('POST', '/replays', {
      version: 'v2',
      rules: [rule('it-speed', 100), rule('it-kept', 150)],
    });
    expect(started.status).toBe(201);
    expect(started.body).toMatchObject({
      version: 'v2',
      state: 'replaying',
      previous: 'v1',
      changedBy: 'bootstrap-admin',
    });
    expect(
      started.body.rules.map((each: { id: string; version: number }) => [each.id, each.version]),
    ).toEqual([
      ['it-speed', 1],
      ['it-kept', 1],
    ]);

    const records = await readTopicToEnd(topics.jobs, 30_000);
    const written = records
      .filter((record) => record.key === 'v2')
      .map((record) => JSON.parse(record.value.toString()));
    expect(written).toEqual([expect.objectContaining({ version: 'v2', state: 'replaying', previous: 'v1' })]);

    expect((await call('POST', '/replays', { version: 'v2' })).status).toBe(409);
    expect((await call('POST', '/replays', { version: 'V2' })).status).toBe(422);
  });

  it("reports progress from the job's committed offsets (to a viewer): per partition start, committed, end and lag, and totals", async () => {
    const committed = await commitAs('v2', (end) => Math.floor(end / 2));
    const ends = await logEnds();
    const answer = await call('GET', '/replays/v2');
    expect(answer.status).toBe(200);
    const { progress } = answer.body;
    expect(progress.partitions).toHaveLength(ends.size);
    for (const partition of progress.partitions) {
      const end = ends.get(partition.partition)!;
      expect(partition).toMatchObject({ start: 0, end, lag: end - committed.get(partition.partition)! });
    }
    const done = [...committed.values()].reduce((sum, offset) => sum + offset, 0);
    expect(progress).toMatchObject({ done, total: 60, lag: 60 - done });
    expect(progress.eventsPerSecond).toBeGreaterThan(0);

    const all = await call('GET', '/replays');
    expect(all.body.map((job: JobRecord) => [job.version, job.state])).toEqual([
      ['v1', 'live'],
      ['v2', 'replaying'],
    ]);

    const viewer = await call('POST', '/api-keys', { name: 'replay-viewer', role: 'viewer' });
    expect((await call('GET', '/replays', undefined, viewer.body.key)).status).toBe(200);
    expect((await call('POST', '/replays', { version: 'v9' }, viewer.body.key)).status).toBe(403);
    expect((await call('POST', '/replays/v2/promote', undefined, viewer.body.key)).status).toBe(403);
  });

  it('refuses to promote a replay that lags, with its lag, and leaves it replaying', async () => {
    const refused = await call('POST', '/replays/v2/promote');
    expect(refused.status).toBe(409);
    expect(refused.body.lag).toBeGreaterThan(maxLag);
    expect((await call('GET', '/replays/v2')).body.state).toBe('replaying');
  });

  it('promotes a caught-up replay: waits for the live job to stop, hands over at its offsets, writes the rules, swaps the aliases', async () => {
    await commitAs('v2', (end) => end);
    await indexAlerts('v1', [
      alertMessage('it-old', 'car-1', '2026-01-01T00:00:00.000Z'),
      alertMessage('it-kept', 'car-1', '2026-01-01T00:01:00.000Z'),
      alertMessage('it-kept', 'car-2', '2026-01-01T00:02:00.000Z'),
    ]);
    await indexAlerts('v2', [
      alertMessage('it-kept', 'car-1', '2026-01-01T00:01:00.000Z', { ruleVersion: 2 }),
      alertMessage('it-kept', 'car-2', '2026-01-01T00:02:00.000Z', {
        status: 'cleared',
        clearedAt: '2026-01-01T00:03:00.000Z',
      }),
      alertMessage('it-speed', 'car-3', '2026-01-01T00:04:00.000Z'),
    ]);

    let settled = false;
    const promotion = call('POST', '/replays/v2/promote').finally(() => (settled = true));
    const promoting = await until(
      () => call('GET', '/replays/v2'),
      (answer) => answer.body.state === 'promoting',
    );
    expect(promoting.body.state).toBe('promoting');
    // cep's part: the live job's pipeline sees its successor promoting, commits and leaves its group.
    await sleep(1_000);
    expect(settled).toBe(false);
    await liveJob!.disconnect();
    liveJob = undefined;
    const handover = Object.fromEntries(
      [...(await committedOffsets('v1'))].map(([partition, offset]) => [String(partition), String(offset)]),
    );

    const promoted = await promotion;
    expect(promoted.status).toBe(200);
    expect(promoted.body).toEqual({
      version: 'v2',
      state: 'live',
      previous: 'v1',
      handover,
      rules: { created: 1, updated: 0, deleted: 1 },
    });

    expect((await call('GET', '/replays/v2')).body).toMatchObject({
      state: 'live',
      handover,
      previous: 'v1',
    });
    expect((await call('GET', '/replays/v1')).body.state).toBe('retired');

    const read = await elasticsearch.search<AlertMessage>({
      index: datasetNames(namespace, 'v1').alerts.alias,
      size: 10,
    });
    expect(read.hits.hits.map((hit) => hit._index)).toEqual(
      Array(3).fill(datasetNames(namespace, 'v2').alerts.index),
    );

    const rules = await call('GET', '/rules');
    expect(
      rules.body.map((current: { rule: { id: string; version: number }; changedBy: string }) => [
        current.rule.id,
        current.rule.version,
        current.changedBy,
      ]),
    ).toEqual([
      ['it-kept', 1, 'bootstrap-admin'],
      ['it-speed', 1, 'promote v2'],
    ]);
  });

  it('compares two versions: alerts added, removed and changed, per rule and per vehicle', async () => {
    const answer = await call('GET', '/replays/v1/diff/v2?limit=10');
    expect(answer.status).toBe(200);
    expect(answer.body.alerts).toEqual({ from: 3, to: 3 });
    expect(answer.body.totals).toEqual({ added: 1, removed: 1, changed: 1, unchanged: 1 });
    expect(answer.body.byRule).toEqual(
      expect.arrayContaining([
        { ruleId: 'it-old', added: 0, removed: 1, changed: 0 },
        { ruleId: 'it-kept', added: 0, removed: 0, changed: 1 },
        { ruleId: 'it-speed', added: 1, removed: 0, changed: 0 },
      ]),
    );
    expect(answer.body.byVehicle).toHaveLength(3);
    const changed = answer.body.differences.find(
      (difference: { kind: string }) => difference.kind === 'changed',
    );
    expect(changed).toMatchObject({ ruleId: 'it-kept', vehicleId: 'car-2', fields: ['status', 'clearedAt'] });
    expect((await call('GET', '/replays/v1/diff/v9')).status).toBe(404);
  });

  it('documents every replay route in the OpenAPI document with its required role', async () => {
    const { paths } = (await call('GET', '/docs/openapi.json')).body as {
      paths: Record<string, Record<string, Record<string, unknown>>>;
    };
    expect(paths['/replays']!.post).toMatchObject({ 'x-required-role': 'admin' });
    expect(paths['/replays']!.get).toMatchObject({ 'x-required-role': 'viewer' });
    expect(paths['/replays/{version}/promote']!.post).toMatchObject({ 'x-required-role': 'admin' });
    expect(Object.keys(paths)).toEqual(
      expect.arrayContaining([
        '/replays/{version}',
        '/replays/{version}/abort',
        '/replays/{version}/indices',
        '/replays/{from}/diff/{to}',
      ]),
    );
  });

  it('aborts a replay, and only a replay; a replay from a time starts where the log reaches it', async () => {
    const started = await call('POST', '/replays', { version: 'v3', from: new Date().toISOString() });
    expect(started.status).toBe(201);
    expect(started.body.progress).toMatchObject({ done: 0, total: 0, lag: 0 });
    const ends = await logEnds();
    for (const partition of started.body.progress.partitions) {
      expect(partition.start).toBe(ends.get(partition.partition));
    }

    const aborted = await call('POST', '/replays/v3/abort');
    expect(aborted.status).toBe(200);
    expect(aborted.body.state).toBe('aborted');
    expect((await call('POST', '/replays/v3/abort')).status).toBe(409);
    expect((await call('POST', '/replays/v3/promote')).status).toBe(409);
    expect((await call('POST', '/replays/v2/abort')).status).toBe(409);
  });

  it("cleans up a retired version's indices and consumer group, never the live one's", async () => {
    expect((await call('DELETE', '/replays/v2/indices')).status).toBe(409);
    expect(await elasticsearch.indices.exists({ index: datasetNames(namespace, 'v2').alerts.index })).toBe(
      true,
    );

    const cleaned = await call('DELETE', '/replays/v1/indices');
    expect(cleaned.status).toBe(200);
    expect(cleaned.body.deletedIndices).toEqual(
      jobDatasets.map((dataset) => datasetNames(namespace, 'v1')[dataset].index),
    );
    expect(await elasticsearch.indices.exists({ index: datasetNames(namespace, 'v1').alerts.index })).toBe(
      false,
    );
    expect((await committedOffsets('v1')).size).toBe(0);
    expect((await call('GET', '/replays/v1')).status).toBe(404);

    expect((await call('DELETE', '/replays/v3/indices')).status).toBe(200);
  });

  describe('fleetlog CLI', () => {
    let directory: string;
    const cli = (...args: string[]) =>
      run(process.execPath, ['tools/cli/fleetlog.ts', 'replay', ...args], {
        env: { ...process.env, FLEETLOG_API_URL: api, FLEETLOG_API_KEY: adminKey },
      }).then(
        ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
        (error: { code: number; stdout: string; stderr: string }) => error,
      );

    beforeAll(async () => {
      directory = await mkdtemp(join(tmpdir(), 'fleetlog-replay-'));
      await writeFile(join(directory, 'speed.json'), JSON.stringify(rule('it-speed', 80)));
    });

    afterAll(async () => {
      await rm(directory, { recursive: true, force: true });
    });

    it('starts a replay, shows its progress, compares it and promotes it', async () => {
      const started = await cli('start', '--version', 'v4', '--rules', directory);
      expect(started).toMatchObject({ code: 0 });
      expect(started.stdout).toContain('started v4: 1 rule(s), from the start of the log');

      const halfway = await commitAs('v4', (end) => Math.floor(end / 2));
      const done = [...halfway.values()].reduce((sum, offset) => sum + offset, 0);
      const status = await cli('status', 'v4');
      expect(status.code).toBe(0);
      expect(status.stdout).toContain(`v4 replaying: ${done} / 60 events`);
      expect(status.stdout).toMatch(/lag per partition: p0 \d/);

      const refused = await cli('promote', 'v4');
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('409 Replay lagging');

      await provisionIndices(elasticsearch, namespace, 'v4');
      await indexAlerts('v4', [
        alertMessage('it-speed', 'car-3', '2026-01-01T00:04:00.000Z', { ruleVersion: 2 }),
      ]);
      const diff = await cli('diff', 'v2', 'v4');
      expect(diff.code).toBe(0);
      expect(diff.stdout).toContain('v2 → v4: 3 → 1 alerts; +0 added, -2 removed, ~0 changed, 1 unchanged');
      expect(diff.stdout).toContain('acme/car-2  +0 -1 ~0');

      await commitAs('v4', (end) => end);
      const promoted = await cli('promote', 'v4');
      expect(promoted).toMatchObject({ code: 0 });
      expect(promoted.stdout).toContain('v4 is live, v2 retired; handover p');
      expect((await call('GET', '/rules/it-speed')).body.rule).toMatchObject({
        version: 2,
        conditions: { all: [{ value: 80 }] },
      });

      const watched = await cli('status', 'v4', '--watch');
      expect(watched.stdout).toContain('v4 live: 60 / 60 events (100.0%)');
    });
  });
});
