import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from '@elastic/elasticsearch';
import { Kafka, Partitioners, logLevel } from 'kafkajs';
import type { AlertMessage, RuleRecord, TelemetryRecord } from '@fleetlog/contracts';
import { callApi } from '../support/api-client';
import { AppFleet } from '../support/app-fleet';
import { readTopicToEnd } from '../support/kafka-reader';
import { tearDownNamespace } from '../support/namespace-cleanup';
import { testNamespace } from '../support/test-namespace';

const run = promisify(execFile);

/**
 * The rules API on the real Kafka and Elasticsearch: two api processes in a namespace of their own, rules written to
 * fleet.rules with their audit trail, dry runs over telemetry written to the namespace's fleet.telemetry in the
 * gateway's format, and the fleetlog CLI against the running API.
 */
describe('rules API', () => {
  const namespace = testNamespace('it');
  const adminKey = `it-admin-${randomBytes(24).toString('hex')}`;
  const fleetId = 'acme';
  const apps = new AppFleet(namespace);
  const kafka = new Kafka({ brokers: process.env.KAFKA_BROKERS!.split(','), logLevel: logLevel.NOTHING });
  const elasticsearch = new Client({ node: process.env.ELASTICSEARCH_URL! });
  const rulesTopic = `${namespace}.fleet.rules`;
  let api: string;
  /** A second instance, with a dry run limit of 5 records. */
  let otherApi: string;
  let operatorKey: string;

  async function call(
    method: string,
    path: string,
    options: { body?: unknown; ifMatch?: string; key?: string; base?: string } = {},
  ) {
    const answer = await callApi(options.base ?? api, method, path, {
      key: options.key ?? operatorKey,
      body: options.body,
      headers: options.ifMatch === undefined ? undefined : { 'if-match': options.ifMatch },
    });
    return { ...answer, etag: answer.headers.get('etag') };
  }

  function rule(id: string, threshold: number, extra: Record<string, unknown> = {}) {
    return {
      id,
      name: 'Speed above a threshold',
      severity: 'warning',
      conditions: { all: [{ fact: 'speedKph', operator: 'greaterThan', value: threshold }] },
      message: '{{vehicleId}} at {{speedKph}} km/h',
      ...extra,
    };
  }

  /** Launches an api instance and answers its address, from the "started" line it logs (AppFleet picks the port). */
  async function launchApi(label: string, env: NodeJS.ProcessEnv = {}): Promise<string> {
    await apps.launch('api', { API_ADMIN_KEY: adminKey, ...env }, { label });
    const started = apps.output
      .filter((line) => line.startsWith(`${label}: {`))
      .map((line) => JSON.parse(line.slice(label.length + 2)) as { msg?: string; http?: string })
      .find((entry) => entry.msg === 'started');
    return started!.http!;
  }

  beforeAll(async () => {
    api = await launchApi('api');
    otherApi = await launchApi('api-2', { RULES_DRY_RUN_MAX_RECORDS: '5' });
    const created = await call('POST', '/api-keys', {
      key: adminKey,
      body: { name: 'rules-operator', role: 'operator' },
    });
    expect(created.status).toBe(201);
    operatorKey = created.body.key;
  });

  afterAll(async () => {
    const exitCodes = await tearDownNamespace(apps, elasticsearch, namespace);
    expect(exitCodes.every((code) => code === 0)).toBe(true);
  });

  it('writes a created rule to fleet.rules as version 1, changed by the name of the key that made it', async () => {
    const created = await call('POST', '/rules', { body: rule('it-overspeed', 120) });
    expect(created.status).toBe(201);
    expect(created.etag).toBe('"1"');
    expect(created.body).toMatchObject({
      rule: { id: 'it-overspeed', version: 1 },
      changedBy: 'rules-operator',
    });

    const records = await readTopicToEnd(rulesTopic, 30_000);
    const record = records.find((candidate) => candidate.key === 'it-overspeed');
    const value = JSON.parse(record!.value.toString()) as RuleRecord;
    expect(value).toMatchObject({ changedBy: 'rules-operator', rule: { id: 'it-overspeed', version: 1 } });

    expect((await call('POST', '/rules', { body: rule('it-overspeed', 130) })).status).toBe(409);
  });

  it('makes a change a new version, and refuses one made to a stale version with 409', async () => {
    const updated = await call('PUT', '/rules/it-overspeed', {
      body: rule('it-overspeed', 100),
      ifMatch: '"1"',
    });
    expect(updated.status).toBe(200);
    expect(updated.body.rule).toMatchObject({ version: 2, conditions: { all: [{ value: 100 }] } });

    const stale = await call('PUT', '/rules/it-overspeed', {
      body: rule('it-overspeed', 90),
      ifMatch: '"1"',
    });
    expect(stale.status).toBe(409);
    expect(stale.body.currentVersion).toBe(2);

    const unchanged = await call('PUT', '/rules/it-overspeed', {
      body: { ...rule('it-overspeed', 100), version: 2 },
    });
    expect(unchanged.body.rule.version).toBe(2);
  });

  it('refuses a broken rule with 422, naming the JSON path of each problem', async () => {
    const broken = rule('it-broken', 100, { for: 'soon' });
    (broken.conditions.all[0] as { operator: string }).operator = 'bigger';
    const answer = await call('POST', '/rules', { body: broken });
    expect(answer.status).toBe(422);
    expect(answer.body.errors.map((error: { path: string }) => error.path).sort()).toEqual([
      '/conditions/all/0/operator',
      '/for',
    ]);
    expect((await call('GET', '/rules/it-broken')).status).toBe(404);
  });

  it('refuses actions naming a webhook target that does not exist, and takes those naming one that does', async () => {
    const unknown = 'wht_0000000000000000';
    const refused = await call('POST', '/rules', {
      body: rule('it-routed', 100, { actions: [{ type: 'webhook', target: unknown }] }),
    });
    expect(refused.status).toBe(422);
    expect(refused.body.errors).toEqual([
      expect.objectContaining({
        path: '/actions/0/target',
        message: `there is no webhook target ${unknown}`,
      }),
    ]);
    const target = await call('POST', '/webhook-targets', {
      body: { url: 'https://hooks.example.com/fleet' },
    });
    expect(target.status).toBe(201);
    const created = await call('POST', '/rules', {
      body: rule('it-routed', 100, { actions: [{ type: 'webhook', target: target.body.id }] }),
    });
    expect(created.status).toBe(201);
    expect(created.body.rule.actions).toEqual([{ type: 'webhook', target: target.body.id }]);
  });

  it('shows the history of every version with who made it and the diff, searchable in Elasticsearch', async () => {
    const answer = await call('GET', '/rules/it-overspeed', { key: adminKey });
    expect(answer.status).toBe(200);
    expect(answer.etag).toBe('"2"');
    expect(answer.body.history).toEqual([
      expect.objectContaining({ version: 1, action: 'create', changedBy: 'rules-operator' }),
      expect.objectContaining({
        version: 2,
        action: 'update',
        changedBy: 'rules-operator',
        diff: [{ op: 'change', path: '/conditions/all/0/value', before: 120, after: 100 }],
        rule: expect.objectContaining({ version: 2 }),
      }),
    ]);

    const search = await elasticsearch.search({
      index: `${namespace}-fleet-rule-audit`,
      query: {
        bool: {
          filter: [{ term: { 'diff.path': '/conditions/all/0/value' } }, { term: { action: 'update' } }],
        },
      },
    });
    expect(search.hits.hits.map((hit) => hit._id)).toEqual(['it-overspeed@2']);
  });

  it('lets exactly one of two api instances write the same version at the same time', async () => {
    const [first, second] = await Promise.all([
      call('PUT', '/rules/it-overspeed', { body: rule('it-overspeed', 80), ifMatch: '"2"' }),
      call('PUT', '/rules/it-overspeed', { body: rule('it-overspeed', 70), ifMatch: '"2"', base: otherApi }),
    ]);
    expect([first.status, second.status].sort()).toEqual([200, 409]);
    const winner = first.status === 200 ? 80 : 70;
    const current = await call('GET', '/rules/it-overspeed');
    expect(current.body.rule).toMatchObject({ version: 3, conditions: { all: [{ value: winner }] } });
    expect(current.body.history.map((entry: { version: number }) => entry.version)).toEqual([1, 2, 3]);
  });

  it('finishes a change whose api instance died between its audit document and its record', async () => {
    await call('POST', '/rules', { body: rule('it-interrupted', 100) });
    // What a writer killed after step one leaves: the audit document of version 2, long ago, never published.
    await elasticsearch.create({
      index: `${namespace}-fleet-rule-audit`,
      id: 'it-interrupted@2',
      document: {
        ruleId: 'it-interrupted',
        version: 2,
        action: 'update',
        changedBy: 'killed-writer',
        changedAt: new Date(Date.now() - 11 * 60_000).toISOString(),
        rule: { ...rule('it-interrupted', 90), version: 2, enabled: true },
        diff: [{ op: 'change', path: '/conditions/all/0/value', before: 100, after: 90 }],
      },
      refresh: true,
    });
    const colliding = await call('PUT', '/rules/it-interrupted', {
      body: rule('it-interrupted', 80),
      ifMatch: '"1"',
    });
    expect(colliding.status).toBe(409);
    const current = await call('GET', '/rules/it-interrupted');
    expect(current.body).toMatchObject({
      rule: { version: 2, conditions: { all: [{ value: 90 }] } },
      changedBy: 'killed-writer',
    });
    const retried = await call('PUT', '/rules/it-interrupted', {
      body: rule('it-interrupted', 80),
      ifMatch: '"2"',
    });
    expect(retried.body.rule.version).toBe(3);
  });

  it('disables and enables a rule as new versions, and filters the list', async () => {
    expect((await call('POST', '/rules/it-overspeed/disable')).body.rule).toMatchObject({
      version: 4,
      enabled: false,
    });
    const disabled = await call('GET', '/rules?enabled=false');
    expect(disabled.body.map((entry: { rule: { id: string } }) => entry.rule.id)).toEqual(['it-overspeed']);
    expect((await call('POST', '/rules/it-overspeed/enable', { ifMatch: '4' })).body.rule).toMatchObject({
      version: 5,
      enabled: true,
    });
    expect((await call('GET', '/rules?severity=critical')).body).toEqual([]);
    expect((await call('GET', '/rules?enabled=maybe')).status).toBe(422);
  });

  it('deletes a rule with a tombstone on fleet.rules', async () => {
    await call('POST', '/rules', { body: rule('it-doomed', 100) });
    expect((await call('DELETE', '/rules/it-doomed', { ifMatch: '"1"' })).status).toBe(204);
    expect((await call('GET', '/rules/it-doomed')).status).toBe(404);
    const records = (await readTopicToEnd(rulesTopic, 30_000)).filter((record) => record.key === 'it-doomed');
    expect(records.at(-1)!.value.length).toBe(0);
    // A re-created rule goes on from the deleted one's versions, so its alerts never reuse an id.
    expect((await call('POST', '/rules', { body: rule('it-doomed', 100) })).body.rule.version).toBe(3);
  });

  describe('dry run', () => {
    const base = Date.now() - 10 * 60_000;
    const at = (second: number) => new Date(base + second * 1_000).toISOString();
    /** Speeds, one a second from `base`, per vehicle of the fleet; a vehicle of another fleet drives too. */
    const drives: Record<string, number[]> = {
      'truck-1': [90, 110, 130, 80, 95],
      'truck-2': [130, 125, 90, 60, 60],
      'truck-3': [105, 102, 90, 90, 90],
    };
    const otherFleetSpeeds = [150, 150, 150, 60, 60];
    let to: string;

    /** What a rule "speed above threshold", without `for`, raises: computed here, not by cep's engine. */
    function expectedAlerts(threshold: number) {
      return Object.entries(drives).flatMap(([vehicleId, speeds]) => {
        const alerts: Array<{ vehicleId: string; startedAt: string; clearedAt?: string; status: string }> =
          [];
        speeds.forEach((speed, second) => {
          const open = alerts.at(-1)?.status === 'active' ? alerts.at(-1) : undefined;
          if (speed > threshold && !open) alerts.push({ vehicleId, startedAt: at(second), status: 'active' });
          if (speed <= threshold && open) Object.assign(open, { status: 'cleared', clearedAt: at(second) });
        });
        return alerts;
      });
    }

    const summary = (alerts: AlertMessage[]) =>
      alerts
        .map(({ vehicleId, startedAt, clearedAt, status }) => ({
          vehicleId,
          startedAt,
          status,
          ...(clearedAt && { clearedAt }),
        }))
        .sort((a, b) => `${a.vehicleId}${a.startedAt}`.localeCompare(`${b.vehicleId}${b.startedAt}`));
    const keys = (alerts: Array<{ vehicleId: string; startedAt: string }>) =>
      alerts.map(({ vehicleId, startedAt }) => `${vehicleId}@${startedAt}`).sort();

    beforeAll(async () => {
      const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
      await producer.connect();
      const record = (vehicle: string, fleet: string, second: number, speedKph: number) => {
        const value: TelemetryRecord = {
          vehicleId: vehicle,
          fleetId: fleet,
          ts: at(second),
          speedKph,
          channel: 'telemetry',
          receivedAt: new Date().toISOString(),
        };
        return { key: vehicle, value: JSON.stringify(value) };
      };
      await producer.send({
        topic: `${namespace}.fleet.telemetry`,
        acks: -1,
        messages: [
          ...Object.entries(drives).flatMap(([vehicle, speeds]) =>
            speeds.map((speed, second) => record(vehicle, fleetId, second, speed)),
          ),
          ...otherFleetSpeeds.map((speed, second) => record('truck-1', 'globex', second, speed)),
        ],
      });
      await producer.disconnect();
      to = new Date().toISOString();
      await call('POST', '/rules', { body: rule('it-dry', 120) });
    });

    it('returns the alerts a draft would have raised and how they differ from the current version', async () => {
      const answer = await call('POST', '/rules/test', {
        body: { rule: rule('it-dry', 100), fleetId, from: at(-60), to },
      });
      expect(answer.status).toBe(200);
      expect(answer.body.records).toEqual({ read: 20, evaluated: 15 });
      expect(summary(answer.body.alerts)).toEqual(expectedAlerts(100));
      expect(summary(answer.body.current.alerts)).toEqual(expectedAlerts(120));
      expect(answer.body.rule.version).toBe(2);

      const draft = keys(expectedAlerts(100));
      const current = keys(expectedAlerts(120));
      expect(keys(answer.body.diff.added)).toEqual(draft.filter((key) => !current.includes(key)));
      expect(keys(answer.body.diff.removed)).toEqual(current.filter((key) => !draft.includes(key)));
      expect(answer.body.diff.unchanged + answer.body.diff.changed.length).toBe(
        draft.filter((key) => current.includes(key)).length,
      );
    });

    it('reads only the partition of a named vehicle, and evaluates only that vehicle', async () => {
      const answer = await call('POST', '/rules/test', {
        body: { rule: rule('it-new', 100), fleetId, vehicleId: 'truck-3', from: at(-60), to },
      });
      expect(answer.status).toBe(200);
      expect(answer.body.records.evaluated).toBe(5);
      expect(answer.body.records.read).toBeLessThan(20);
      expect(summary(answer.body.alerts)).toEqual(
        expectedAlerts(100).filter((a) => a.vehicleId === 'truck-3'),
      );
      expect(answer.body.current).toBeNull();
      expect(keys(answer.body.diff.added)).toEqual(['truck-3@' + at(0)]);
    });

    it('judges a tag-scoped draft by the tags set through /vehicles', async () => {
      const tagged = await call('PUT', `/vehicles/${fleetId}/truck-3`, { body: { tags: ['reefer'] } });
      expect(tagged.status).toBe(200);
      const answer = await call('POST', '/rules/test', {
        body: { rule: rule('it-reefer', 100, { scope: { tags: ['reefer'] } }), fleetId, from: at(-60), to },
      });
      expect(answer.status).toBe(200);
      expect(summary(answer.body.alerts)).toEqual(
        expectedAlerts(100).filter((a) => a.vehicleId === 'truck-3'),
      );
    });

    it('refuses with 422 a range longer than allowed, one holding too many records, and a broken draft', async () => {
      const long = await call('POST', '/rules/test', {
        body: {
          rule: rule('it-dry', 100),
          from: new Date(Date.parse(to) - 25 * 3_600_000).toISOString(),
          to,
        },
      });
      expect(long.status).toBe(422);
      expect(long.body.errors[0].path).toBe('/to');

      const many = await call('POST', '/rules/test', {
        body: { rule: rule('it-dry', 100), from: at(-60), to },
        base: otherApi,
      });
      expect(many.status).toBe(422);
      expect(many.body.detail).toMatch(/20 records, more than the limit of 5/);

      const broken = await call('POST', '/rules/test', {
        body: { rule: rule('it-dry', 100, { severity: 'dire' }), from: at(-60), to },
      });
      expect(broken.status).toBe(422);
      expect(broken.body.errors.map((error: { path: string }) => error.path)).toEqual(['/rule/severity']);
    });
  });

  describe('fleetlog CLI', () => {
    let directory: string;
    const cli = (...args: string[]) =>
      run(process.execPath, ['tools/cli/fleetlog.ts', 'rules', ...args], {
        env: { ...process.env, FLEETLOG_API_URL: api, FLEETLOG_API_KEY: operatorKey },
      }).then(
        ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
        (error: { code: number; stdout: string; stderr: string }) => error,
      );

    beforeAll(async () => {
      directory = await mkdtemp(join(tmpdir(), 'fleetlog-rules-'));
      await writeFile(join(directory, 'cli-a.json'), JSON.stringify(rule('it-cli-a', 100)));
      await writeFile(join(directory, 'cli-b.json'), JSON.stringify(rule('it-cli-b', 110, { version: 1 })));
    });

    afterAll(() => rm(directory, { recursive: true, force: true }));

    it('validates a directory locally, naming the file and JSON path of each problem', async () => {
      expect(await cli('validate', directory)).toMatchObject({
        code: 0,
        stdout: expect.stringMatching(/2 rule/),
      });
      const broken = join(directory, 'cli-broken.json');
      await writeFile(broken, JSON.stringify(rule('it-cli-c', 100, { severity: 'dire' })));
      const answer = await cli('validate', directory);
      await rm(broken);
      expect(answer.code).toBe(1);
      expect(answer.stderr).toContain(`${broken}: /severity`);
    });

    it('shows the difference, applies it, and then finds none; rules without a file stay unless pruned', async () => {
      const before = await cli('diff', directory);
      expect(before.code).toBe(1);
      expect(before.stdout).toMatch(/^\+ it-cli-a/m);
      expect(before.stdout).toMatch(/^\+ it-cli-b/m);
      expect(before.stdout).toMatch(/^- it-overspeed .*--prune/m);

      expect((await cli('apply', directory)).code).toBe(0);
      expect((await cli('diff', directory)).stdout).not.toMatch(/^[+~]/m);
      expect((await call('GET', '/rules/it-overspeed')).status).toBe(200);

      await writeFile(
        join(directory, 'cli-a.json'),
        JSON.stringify(rule('it-cli-a', 100, { severity: 'critical' })),
      );
      const changed = await cli('diff', directory);
      expect(changed).toMatchObject({
        code: 1,
        stdout: expect.stringMatching(/^~ it-cli-a +v1 → v2: \/severity$/m),
      });
      expect((await cli('apply', directory)).code).toBe(0);
      const current = await call('GET', '/rules/it-cli-a');
      expect(current.body.rule).toMatchObject({ version: 2, severity: 'critical' });
      expect(current.body.history.at(-1)).toMatchObject({ changedBy: 'rules-operator', action: 'update' });

      expect((await cli('apply', directory, '--prune')).code).toBe(0);
      expect((await cli('diff', directory)).code).toBe(0);
      expect(
        (await call('GET', '/rules')).body.map((entry: { rule: { id: string } }) => entry.rule.id),
      ).toEqual(['it-cli-a', 'it-cli-b']);
    });
  });
});
