import { randomBytes } from 'node:crypto';
import { Client } from '@elastic/elasticsearch';
import { topicNames, type AlertMessage, type WebhookTarget } from '@fleetlog/contracts';
import { datasetNames, provisionIndices } from '@fleetlog/elasticsearch';
import { callApi, type ApiRequest } from '../support/api-client';
import { AppFleet } from '../support/app-fleet';
import { readTopic } from '../support/kafka-reader';
import { eventually } from '../support/webhook-receiver';
import { tearDownNamespace } from '../support/namespace-cleanup';
import { testNamespace } from '../support/test-namespace';

/**
 * The api as a real process on the real Kafka and Elasticsearch: API keys and roles, rate limits, alerts with their
 * acknowledgements, webhook targets on their compacted topic, validation and the OpenAPI document.
 */
describe('api', () => {
  const namespace = testNamespace('it');
  const adminKey = `bootstrap-${randomBytes(24).toString('hex')}`;
  const elasticsearch = new Client({ node: process.env.ELASTICSEARCH_URL! });
  const apps = new AppFleet(namespace);
  let api: string;
  /** A second instance, with its own key cache. */
  let peer: string;
  let viewerKey: string;
  let operatorKey: string;

  /** The address the app reported in its "started" line: AppFleet picks the port. */
  const addressOf = (label: string): string => {
    const started = apps.output
      .filter((line) => line.startsWith(`${label}: `))
      .map((line) => JSON.parse(line.slice(label.length + 2)) as { msg?: string; http?: string })
      .find((entry) => entry.msg === 'started');
    return started!.http!;
  };

  const call = (method: string, path: string, options: ApiRequest & { base?: string } = {}) =>
    callApi(options.base ?? api, method, path, options);

  const createKey = async (role: string, name = `${role}-${randomBytes(3).toString('hex')}`) => {
    const created = await call('POST', '/api-keys', { key: adminKey, body: { name, role } });
    expect(created.status).toBe(201);
    return created.body as { id: string; key: string; name: string };
  };

  beforeAll(async () => {
    await apps.launch('api', { API_ADMIN_KEY: adminKey }, { label: 'api' });
    api = addressOf('api');
    await apps.launch(
      'api',
      { API_ADMIN_KEY: adminKey, API_KEY_CACHE_TTL_MS: '1000' },
      { label: 'peer-api' },
    );
    peer = addressOf('peer-api');
    viewerKey = (await createKey('viewer')).key;
    operatorKey = (await createKey('operator')).key;
  });

  afterAll(async () => {
    const exitCodes = await tearDownNamespace(apps, elasticsearch, namespace);
    expect(exitCodes.every((code) => code === 0)).toBe(true);
  });

  it('answers 401 with WWW-Authenticate and a problem body to a request without a key or with an unknown one', async () => {
    for (const key of [undefined, `flk_${randomBytes(32).toString('base64url')}`]) {
      const answer = await call('GET', '/alerts', { key });
      expect(answer.status).toBe(401);
      expect(answer.headers.get('www-authenticate')).toMatch(/^Bearer realm="fleetlog"/);
      expect(answer.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(answer.body).toMatchObject({ status: 401, title: 'Unauthorized', detail: expect.any(String) });
    }
    expect((await call('GET', '/health')).status).toBe(200);
    const docs = await call('GET', '/docs');
    expect(docs.status).toBe(200);
    expect(docs.body).toContain('/docs/openapi.json');
  });

  it('lets a viewer read alerts but not create a webhook target, which an operator can', async () => {
    expect((await call('GET', '/alerts', { key: viewerKey })).status).toBe(200);
    const viaHeader = await fetch(`${api}/alerts`, { headers: { 'x-api-key': viewerKey } });
    expect(viaHeader.status).toBe(200);
    const target = { url: 'https://hooks.example.com/fleet' };
    const refused = await call('POST', '/webhook-targets', { key: viewerKey, body: target });
    expect(refused.status).toBe(403);
    expect(refused.body.detail).toMatch(/operator/);
    expect((await call('POST', '/webhook-targets', { key: operatorKey, body: target })).status).toBe(201);
  });

  it('lets only an admin allow a webhook target into private networks', async () => {
    const target = { url: 'http://10.0.0.7/hook', allowPrivateNetwork: true };
    expect((await call('POST', '/webhook-targets', { key: operatorKey, body: target })).status).toBe(403);
    const created = await call('POST', '/webhook-targets', { key: adminKey, body: target });
    expect(created.status).toBe(201);
    expect(created.body.allowPrivateNetwork).toBe(true);
  });

  it('stops accepting a revoked key, on other instances once their cache expires, and lists it without its hash', async () => {
    const { id, key } = await createKey('viewer');
    expect((await call('GET', '/alerts', { key })).status).toBe(200);
    expect((await call('GET', '/alerts', { key, base: peer })).status).toBe(200);
    expect((await call('DELETE', `/api-keys/${id}`, { key: adminKey })).status).toBe(200);
    expect((await call('GET', '/alerts', { key })).status).toBe(401);
    // The peer cached the key as valid; it asks Elasticsearch again once its cache entry expires.
    await eventually(
      async () => ((await call('GET', '/alerts', { key, base: peer })).status === 401 ? true : undefined),
      30_000,
      'the peer instance to refuse the revoked key',
    );
    const listed = (await call('GET', '/api-keys', { key: adminKey })).body as Array<Record<string, unknown>>;
    expect(listed.find((entry) => entry.id === id)).toMatchObject({ revokedAt: expect.any(String) });
    expect(listed.every((entry) => !('hash' in entry) && !('key' in entry))).toBe(true);
  });

  it('answers 429 with Retry-After once a key has spent its burst, per key and per address', async () => {
    await apps.launch(
      'api',
      { API_ADMIN_KEY: adminKey, API_RATE_LIMIT_BURST: '3', API_RATE_LIMIT_PER_SECOND: '0.01' },
      { label: 'limited-api' },
    );
    const base = addressOf('limited-api');
    const statuses = [];
    for (let request = 0; request < 4; request++) {
      statuses.push((await call('GET', '/alerts', { key: viewerKey, base })).status);
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
    const limited = await call('GET', '/alerts', { key: viewerKey, base });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    // Another key has a bucket of its own; requests without a valid key share their address's.
    expect((await call('GET', '/alerts', { key: operatorKey, base })).status).toBe(200);
    const anonymous = [];
    for (let request = 0; request < 4; request++)
      anonymous.push((await call('GET', '/alerts', { base })).status);
    expect(anonymous).toEqual([401, 401, 401, 429]);
  });

  it('keeps an acknowledgement when cep re-indexes the alert as cleared, and finds it by status', async () => {
    await provisionIndices(elasticsearch, namespace, 'v1');
    const { alerts } = datasetNames(namespace, 'v1');
    const vehicleId = `veh-${randomBytes(3).toString('hex')}`;
    const alert = (
      alertId: string,
      status: 'active' | 'cleared',
    ): AlertMessage & { '@timestamp': string } => ({
      '@timestamp': '2026-11-30T10:00:10.000Z',
      alertId,
      status,
      ruleId: 'overspeed',
      ruleVersion: 1,
      ruleName: 'Overspeed',
      severity: 'warning',
      vehicleId,
      fleetId: 'fleet-a',
      message: 'speed above 130 km/h',
      startedAt: '2026-11-30T10:00:00.000Z',
      raisedAt: '2026-11-30T10:00:10.000Z',
      ...(status === 'cleared' && { clearedAt: '2026-11-30T10:05:00.000Z' }),
      facts: { speedKph: 142 },
      lineage: [],
    });
    const store = (document: AlertMessage) =>
      elasticsearch.index({ index: alerts.index, id: document.alertId, document, refresh: true });
    const acknowledgedId = randomBytes(16).toString('hex');
    const otherId = randomBytes(16).toString('hex');
    await store(alert(acknowledgedId, 'active'));
    await store(alert(otherId, 'active'));

    const viewerAttempt = await call('POST', `/alerts/${acknowledgedId}/acknowledge`, {
      key: viewerKey,
      body: { comment: 'on it' },
    });
    expect(viewerAttempt.status).toBe(403);
    const acknowledged = await call('POST', `/alerts/${acknowledgedId}/acknowledge`, {
      key: operatorKey,
      body: { comment: 'driver called' },
    });
    expect(acknowledged.status).toBe(201);
    const operatorName = acknowledged.body.by as string;
    expect(operatorName).toMatch(/^operator-/);

    await store(alert(acknowledgedId, 'cleared'));
    const search = (query: string) =>
      call('GET', `/alerts?vehicleId=${vehicleId}&${query}`, { key: viewerKey });

    const cleared = await search('status=cleared');
    expect(cleared.body).toMatchObject({
      total: 1,
      alerts: [
        {
          alertId: acknowledgedId,
          status: 'cleared',
          acknowledged: { by: operatorName, at: expect.any(String), comment: 'driver called' },
        },
      ],
    });
    const byStatus = await search('status=acknowledged');
    expect(byStatus.body.alerts.map((found: AlertMessage) => found.alertId)).toEqual([acknowledgedId]);
    const all = await search('severity=warning&from=2026-11-30T00:00:00Z&to=2026-12-01T00:00:00Z&limit=10');
    expect(all.body.total).toBe(2);
    expect(
      all.body.alerts.find((found: AlertMessage) => found.alertId === otherId).acknowledged,
    ).toBeUndefined();
    expect((await search('from=2026-12-01T00:00:00Z')).body.total).toBe(0);
    expect(
      (await call('POST', `/alerts/${acknowledgedId}/acknowledge`, { key: operatorKey, body: {} })).status,
    ).toBe(409);
    expect(
      (await call('POST', '/alerts/no-such-alert/acknowledge', { key: operatorKey, body: {} })).status,
    ).toBe(404);
  });

  it('writes a created target to fleet.webhooks.targets with its secret, which no read returns', async () => {
    const created = await call('POST', '/webhook-targets', {
      key: operatorKey,
      body: {
        url: 'https://hooks.example.com/ops',
        filters: { severities: ['critical'], fleetIds: ['fleet-a'] },
      },
    });
    expect(created.status).toBe(201);
    const { id, secret } = created.body as WebhookTarget;
    expect(secret).toMatch(/^whsec_/);
    expect(Buffer.from(secret.slice('whsec_'.length), 'base64')).toHaveLength(32);

    const topic = topicNames(namespace).webhookTargets;
    const records = await readTopic(topic, (read) => read.some((record) => record.key === id), 30_000);
    const record = JSON.parse(records.find((found) => found.key === id)!.value.toString()) as WebhookTarget;
    expect(record).toMatchObject({
      id,
      url: 'https://hooks.example.com/ops',
      secret,
      enabled: true,
      filters: { severities: ['critical'], fleetIds: ['fleet-a'] },
      allowPrivateNetwork: false,
      changedBy: expect.stringMatching(/^operator-/),
    });

    const read = await call('GET', `/webhook-targets/${id}`, { key: operatorKey });
    expect(read.body).toMatchObject({ id, url: 'https://hooks.example.com/ops' });
    expect(read.body).not.toHaveProperty('secret');
    const listed = (await call('GET', '/webhook-targets', { key: operatorKey })).body as Array<
      Record<string, unknown>
    >;
    expect(listed.map((target) => target.id)).toContain(id);
    expect(listed.every((target) => !('secret' in target))).toBe(true);

    const rotated = await call('POST', `/webhook-targets/${id}/rotate-secret`, { key: operatorKey });
    expect(rotated.body.secret).toMatch(/^whsec_/);
    expect(rotated.body.secret).not.toBe(secret);

    expect((await call('DELETE', `/webhook-targets/${id}`, { key: operatorKey })).status).toBe(204);
    expect((await call('GET', `/webhook-targets/${id}`, { key: operatorKey })).status).toBe(404);
    const afterDelete = await readTopic(
      topic,
      (read) => read.some((found) => found.key === id && found.value.length === 0),
      30_000,
    );
    expect(afterDelete.filter((found) => found.key === id).at(-1)!.value).toHaveLength(0);
  });

  it('answers invalid input with 422 and the JSON Pointer of every problem', async () => {
    const answer = await call('POST', '/webhook-targets', {
      key: operatorKey,
      body: { url: 'ftp://files.example.com/', filters: { severities: ['loud'] }, colour: 'red' },
    });
    expect(answer.status).toBe(422);
    expect(answer.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(answer.body.errors).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ in: 'body', path: '/url' }),
        expect.objectContaining({ in: 'body', path: '/filters/severities/0' }),
        expect.objectContaining({ in: 'body', path: '/colour' }),
      ]),
    );
    const query = await call('GET', '/alerts?limit=0&status=asleep', { key: viewerKey });
    expect(query.status).toBe(422);
    expect(query.body.errors.map((error: { path: string }) => error.path).sort()).toEqual([
      '/limit',
      '/status',
    ]);
  });

  it('serves an OpenAPI document listing every endpoint with its inputs and required role', async () => {
    const answer = await call('GET', '/docs/openapi.json');
    expect(answer.status).toBe(200);
    const { paths } = answer.body as { paths: Record<string, Record<string, Record<string, unknown>>> };
    expect(Object.keys(paths)).toEqual(
      expect.arrayContaining([
        '/alerts',
        '/alerts/{id}/acknowledge',
        '/api-keys',
        '/api-keys/{id}',
        '/webhook-targets',
        '/webhook-targets/{id}',
        '/webhook-targets/{id}/rotate-secret',
        '/rules',
        '/health',
        '/metrics',
      ]),
    );
    expect(paths['/webhook-targets']!.post).toMatchObject({
      'x-required-role': 'operator',
      requestBody: {
        content: { 'application/json': { schema: { properties: { url: { type: 'string' } } } } },
      },
    });
    const searchParameters = (paths['/alerts']!.get!.parameters as Array<{ name: string }>).map(
      (p) => p.name,
    );
    expect(searchParameters).toEqual(
      expect.arrayContaining([
        'vehicleId',
        'fleetId',
        'ruleId',
        'severity',
        'status',
        'from',
        'to',
        'limit',
        'offset',
      ]),
    );
    expect(paths['/health']!.get!.security).toEqual([]);
  });
});
