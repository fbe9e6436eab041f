import { randomBytes } from 'node:crypto';
import { Client } from '@elastic/elasticsearch';
import { Kafka, Partitioners, logLevel } from 'kafkajs';
import type { TelemetryRecord } from '@fleetlog/contracts';
import { callApi, type ApiRequest } from '../support/api-client';
import { AppFleet } from '../support/app-fleet';
import { readTopicToEnd } from '../support/kafka-reader';
import { tearDownNamespace } from '../support/namespace-cleanup';
import { testNamespace } from '../support/test-namespace';

type Role = 'viewer' | 'operator' | 'admin';

/**
 * The bad-input catalogue for the api, on the real Kafka and Elasticsearch: requests without a key, with a wrong one
 * and with one of too low a role on every route of every group; rules that are broken in each way an operator can
 * break them, each refused with 422 at its JSON path and leaving the rules as they were; and a rule that would hold
 * for every message of every vehicle. docs/reliability.md lists the cases.
 */
describe('bad api input', () => {
  const namespace = testNamespace('ba');
  const adminKey = `it-admin-${randomBytes(24).toString('hex')}`;
  const apps = new AppFleet(namespace);
  const kafka = new Kafka({ brokers: process.env.KAFKA_BROKERS!.split(','), logLevel: logLevel.NOTHING });
  const elasticsearch = new Client({ node: process.env.ELASTICSEARCH_URL! });
  const keys: Record<Role, string> = { viewer: '', operator: '', admin: adminKey };
  let api: string;

  const call = (method: string, path: string, options: ApiRequest = {}) =>
    callApi(api, method, path, options);

  beforeAll(async () => {
    await apps.launch(
      'api',
      // Hundreds of requests from one address: the rate limit is not what these tests are about.
      { API_ADMIN_KEY: adminKey, API_RATE_LIMIT_PER_SECOND: '1000', API_RATE_LIMIT_BURST: '10000' },
      { label: 'api' },
    );
    const started = apps.output
      .filter((line) => line.startsWith('api: {'))
      .map((line) => JSON.parse(line.slice('api: '.length)) as { msg?: string; http?: string })
      .find((entry) => entry.msg === 'started');
    api = started!.http!;
    for (const role of ['viewer', 'operator'] as const) {
      const created = await call('POST', '/api-keys', { key: adminKey, body: { name: `it-${role}`, role } });
      expect(created.status).toBe(201);
      keys[role] = created.body.key;
    }
  });

  afterAll(async () => {
    const exitCodes = await tearDownNamespace(apps, elasticsearch, namespace);
    expect(exitCodes.every((code) => code === 0)).toBe(true);
  });

  describe('API keys', () => {
    /** Every route of the five groups and the least role it needs. */
    const routes: Array<{ method: string; path: string; role: Role }> = [
      { method: 'GET', path: '/alerts', role: 'viewer' },
      { method: 'POST', path: '/alerts/nope/acknowledge', role: 'operator' },
      { method: 'GET', path: '/rules', role: 'viewer' },
      { method: 'GET', path: '/rules/nope', role: 'viewer' },
      { method: 'POST', path: '/rules', role: 'operator' },
      { method: 'POST', path: '/rules/test', role: 'operator' },
      { method: 'PUT', path: '/rules/nope', role: 'operator' },
      { method: 'POST', path: '/rules/nope/disable', role: 'operator' },
      { method: 'POST', path: '/rules/nope/enable', role: 'operator' },
      { method: 'DELETE', path: '/rules/nope', role: 'operator' },
      { method: 'GET', path: '/webhook-targets', role: 'operator' },
      { method: 'GET', path: '/webhook-targets/nope', role: 'operator' },
      { method: 'POST', path: '/webhook-targets', role: 'operator' },
      { method: 'PUT', path: '/webhook-targets/nope', role: 'operator' },
      { method: 'POST', path: '/webhook-targets/nope/rotate-secret', role: 'operator' },
      { method: 'DELETE', path: '/webhook-targets/nope', role: 'operator' },
      { method: 'GET', path: '/vehicles', role: 'viewer' },
      { method: 'GET', path: '/vehicles/nope/nope', role: 'viewer' },
      { method: 'PUT', path: '/vehicles/nope/nope', role: 'operator' },
      { method: 'DELETE', path: '/vehicles/nope/nope', role: 'operator' },
      { method: 'GET', path: '/api-keys', role: 'admin' },
      { method: 'POST', path: '/api-keys', role: 'admin' },
      { method: 'DELETE', path: '/api-keys/nope', role: 'admin' },
    ];
    const roles: Role[] = ['viewer', 'operator', 'admin'];
    const below = (role: Role) => roles.slice(0, roles.indexOf(role));

    it('covers every route the OpenAPI document lists for alerts, rules, webhook targets, vehicles and API keys', async () => {
      const document = (await call('GET', '/docs/openapi.json')).body as { paths: Record<string, object> };
      const listed = Object.entries(document.paths)
        .filter(([path]) => /^\/(alerts|rules|webhook-targets|vehicles|api-keys)(\/|$)/.test(path))
        .flatMap(([path, operations]) =>
          Object.keys(operations).map(
            (verb) => `${verb.toUpperCase()} ${path.replace(/\{[^}]+\}/g, 'nope')}`,
          ),
        );
      expect(listed.sort()).toEqual(routes.map(({ method, path }) => `${method} ${path}`).sort());
    });

    it.each(routes)(
      '$method $path: 401 without a key, with a wrong or malformed one; 403 below $role; passes with $role',
      async (route) => {
        const wrongKeys = [
          {},
          { key: `flk_${randomBytes(32).toString('base64url')}` },
          { key: `${keys.viewer}x` },
          { authorization: `Basic ${Buffer.from(`admin:${adminKey}`).toString('base64')}` },
          { authorization: 'Bearer' },
        ];
        // A body where the method takes one: what is refused must be the key, not the body.
        const body = ['POST', 'PUT'].includes(route.method) ? {} : undefined;
        for (const credentials of wrongKeys) {
          const answer = await call(route.method, route.path, { ...credentials, body });
          expect({ credentials, status: answer.status, title: answer.body.title }).toEqual({
            credentials,
            status: 401,
            title: 'Unauthorized',
          });
        }
        for (const role of below(route.role)) {
          const answer = await call(route.method, route.path, { key: keys[role], body });
          expect({ role, status: answer.status, detail: answer.body.detail }).toEqual({
            role,
            status: 403,
            detail: expect.stringContaining(route.role),
          });
        }
        const allowed = await call(route.method, route.path, { key: keys[route.role], body });
        expect([401, 403]).not.toContain(allowed.status);
      },
    );
  });

  describe('rules', () => {
    const rulesTopic = `${namespace}.fleet.rules`;
    const baseline = {
      id: 'baseline',
      name: 'Fast',
      severity: 'warning',
      conditions: { all: [{ fact: 'speedKph', operator: 'greaterThan', value: 130 }] },
      message: '{{vehicleId}} at {{speedKph}} km/h',
    };
    const leaf = (condition: Record<string, unknown>) => ({ ...baseline, conditions: { all: [condition] } });
    let nested: Record<string, unknown> = { fact: 'rpm', operator: 'greaterThan', value: 1 };
    for (let depth = 0; depth < 10; depth++) nested = { not: nested };

    const brokenRules: Array<{ name: string; rule: Record<string, unknown>; paths: string[] }> = [
      {
        name: 'unknown operator',
        rule: leaf({ fact: 'speedKph', operator: 'isAbout', value: 100 }),
        paths: ['/conditions/all/0/operator'],
      },
      {
        name: 'regex operator',
        rule: leaf({ fact: 'vehicleId', operator: 'matches', value: '^(a+)+$' }),
        paths: ['/conditions/all/0/operator'],
      },
      {
        name: 'unknown fact',
        rule: leaf({ fact: 'speedKmh', operator: 'greaterThan', value: 100 }),
        paths: ['/conditions/all/0/fact'],
      },
      {
        name: 'value of the wrong type',
        rule: leaf({ fact: 'speedKph', operator: 'greaterThan', value: 'fast' }),
        paths: ['/conditions/all/0/value'],
      },
      {
        name: 'value that is an object',
        rule: leaf({ fact: 'speedKph', operator: 'equal', value: { $gt: 100 } }),
        paths: ['/conditions/all/0/value'],
      },
      {
        name: 'window over a field that is not a number',
        rule: leaf({
          fact: 'window',
          params: { fn: 'avg', field: 'vehicleId', size: '5m' },
          operator: 'greaterThan',
          value: 1,
        }),
        paths: ['/conditions/all/0/params/field'],
      },
      { name: 'absurd duration', rule: { ...baseline, for: '999999d' }, paths: ['/for'] },
      {
        name: 'conditions nested too deep',
        rule: { ...baseline, conditions: nested },
        paths: [`/conditions${'/not'.repeat(8)}`],
      },
      {
        name: 'too many conditions',
        rule: {
          ...baseline,
          conditions: { any: Array.from({ length: 101 }, () => baseline.conditions.all[0]) },
        },
        paths: ['/conditions/any'],
      },
      { name: 'severity of the wrong type', rule: { ...baseline, severity: 3 }, paths: ['/severity'] },
    ];

    beforeAll(async () => {
      expect((await call('POST', '/rules', { key: keys.operator, body: baseline })).status).toBe(201);
    });

    it(`refuses each of ${brokenRules.length} broken rules with 422 at its JSON path, on create and on change, and leaves the rules as they were`, async () => {
      const before = (await call('GET', '/rules', { key: keys.viewer })).body;
      const answers = [];
      for (const [index, broken] of brokenRules.entries()) {
        const created = await call('POST', '/rules', {
          key: keys.operator,
          body: { ...broken.rule, id: `bad-${index}` },
        });
        const changed = await call('PUT', '/rules/baseline', {
          key: keys.operator,
          body: broken.rule,
          headers: { 'if-match': '"1"' },
        });
        answers.push(
          ...[created, changed].map((answer) => ({
            name: broken.name,
            status: answer.status,
            paths: (answer.body.errors as Array<{ path: string }> | undefined)?.map((error) => error.path),
          })),
        );
      }
      expect(answers).toEqual(
        brokenRules.flatMap((broken) =>
          Array(2).fill({ name: broken.name, status: 422, paths: broken.paths }),
        ),
      );
      expect((await call('GET', '/rules', { key: keys.viewer })).body).toEqual(before);
      const records = await readTopicToEnd(rulesTopic, 30_000);
      expect(records.map((record) => record.key)).toEqual(['baseline']);
    });

    it('refuses a rule that would hold for every message of every vehicle, naming /conditions and the share, unless told it is meant', async () => {
      const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
      await producer.connect();
      const now = Date.now();
      const readings = Array.from({ length: 12 }, (_, vehicle) =>
        Array.from({ length: 10 }, (_, second): TelemetryRecord => ({
          vehicleId: `truck-${vehicle}`,
          fleetId: 'acme',
          ts: new Date(now - (10 - second) * 1_000).toISOString(),
          speedKph: 50 + second * 5,
          channel: 'telemetry',
          receivedAt: new Date(now).toISOString(),
        })),
      ).flat();
      await producer.send({
        topic: `${namespace}.fleet.telemetry`,
        acks: -1,
        messages: readings.map((reading) => ({ key: reading.vehicleId, value: JSON.stringify(reading) })),
      });
      await producer.disconnect();
      const always = leaf({ fact: 'speedKph', operator: 'greaterThanInclusive', value: 0 });

      const refused = await call('POST', '/rules', { key: keys.operator, body: { ...always, id: 'always' } });
      expect(refused.status).toBe(422);
      expect(refused.body).toMatchObject({
        title: 'Rule matches nearly everything',
        errors: [
          {
            in: 'body',
            path: '/conditions',
            message: expect.stringContaining(
              'holds for 100% of the last 120 messages, for 12 of 12 vehicles',
            ),
          },
        ],
        breadth: { messages: 120, matched: 120, vehicles: 12, vehiclesMatched: 12 },
      });
      const change = await call('PUT', '/rules/baseline', {
        key: keys.operator,
        body: always,
        headers: { 'if-match': '"1"' },
      });
      expect({ status: change.status, path: change.body.errors?.[0]?.path }).toEqual({
        status: 422,
        path: '/conditions',
      });
      expect((await call('GET', '/rules/always', { key: keys.viewer })).status).toBe(404);
      expect((await call('GET', '/rules/baseline', { key: keys.viewer })).body.rule.version).toBe(1);

      const narrow = leaf({ fact: 'speedKph', operator: 'greaterThan', value: 90 });
      expect(
        (await call('POST', '/rules', { key: keys.operator, body: { ...narrow, id: 'narrow' } })).status,
      ).toBe(201);
      const meant = await call('POST', '/rules?acceptBroadMatch=true', {
        key: keys.operator,
        body: { ...always, id: 'always' },
      });
      expect(meant.status).toBe(201);
    });
  });
});
