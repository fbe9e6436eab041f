import { randomBytes } from 'node:crypto';
import { Client } from '@elastic/elasticsearch';
import { Kafka, Partitioners, logLevel } from 'kafkajs';
import { maxVehicleTags, topicNames, type VehicleRecord } from '@fleetlog/contracts';
import { callApi, type ApiRequest } from '../support/api-client';
import { AppFleet } from '../support/app-fleet';
import { readTopicToEnd, type ReadRecord } from '../support/kafka-reader';
import { tearDownNamespace } from '../support/namespace-cleanup';
import { testNamespace } from '../support/test-namespace';

/**
 * The vehicle registry as a real api process on the real Kafka: tags put, read, listed and deleted through the API,
 * each change a record (or a tombstone) on the compacted fleet.vehicles topic keyed `fleetId/vehicleId`, and records
 * on that topic that break the contract refused.
 */
describe('vehicles api', () => {
  const namespace = testNamespace('veh');
  const adminKey = `it-admin-${randomBytes(24).toString('hex')}`;
  const apps = new AppFleet(namespace);
  const elasticsearch = new Client({ node: process.env.ELASTICSEARCH_URL! });
  const vehiclesTopic = topicNames(namespace).vehicles;
  const operatorName = `it-operator-${randomBytes(3).toString('hex')}`;
  let api: string;
  let viewerKey: string;
  let operatorKey: string;

  const call = (method: string, path: string, options: ApiRequest = {}) =>
    callApi(api, method, path, options);

  const putTags = (path: string, tags: unknown, key = operatorKey) =>
    call('PUT', `/vehicles/${path}`, { key, body: { tags } });

  /** The records fleet.vehicles holds for one key, oldest first; a tombstone reads as an empty value. */
  const recordsOf = async (key: string): Promise<ReadRecord[]> =>
    (await readTopicToEnd(vehiclesTopic, 30_000)).filter((record) => record.key === key);

  const createKey = async (role: string, name: string): Promise<string> => {
    const created = await call('POST', '/api-keys', { key: adminKey, body: { name, role } });
    expect(created.status).toBe(201);
    return created.body.key as string;
  };

  beforeAll(async () => {
    await apps.launch('api', { API_ADMIN_KEY: adminKey }, { label: 'api' });
    const started = apps.output
      .filter((line) => line.startsWith('api: {'))
      .map((line) => JSON.parse(line.slice('api: '.length)) as { msg?: string; http?: string })
      .find((entry) => entry.msg === 'started');
    api = started!.http!;
    viewerKey = await createKey('viewer', `it-viewer-${randomBytes(3).toString('hex')}`);
    operatorKey = await createKey('operator', operatorName);
  });

  afterAll(async () => {
    const exitCodes = await tearDownNamespace(apps, elasticsearch, namespace);
    expect(exitCodes.every((code) => code === 0)).toBe(true);
  });

  it("stores an operator's tags as a record keyed fleetId/vehicleId on fleet.vehicles, readable at once", async () => {
    const put = await putTags('acme/truck-1', ['reefer', 'eu:north']);
    expect(put.status).toBe(200);
    expect(put.body).toEqual({
      fleetId: 'acme',
      vehicleId: 'truck-1',
      tags: ['reefer', 'eu:north'],
      changedBy: operatorName,
      changedAt: expect.any(String),
    });
    expect(Math.abs(Date.parse(put.body.changedAt) - Date.now())).toBeLessThan(60_000);

    const read = await call('GET', '/vehicles/acme/truck-1', { key: viewerKey });
    expect(read.status).toBe(200);
    expect(read.body).toEqual(put.body);

    const records = await recordsOf('acme/truck-1');
    expect(records).toHaveLength(1);
    expect(records[0]!.partition).toBe(0);
    expect(JSON.parse(records[0]!.value.toString('utf8')) as VehicleRecord).toEqual(put.body);
  });

  it('replaces the tags a vehicle had on the next put, a new record on the topic', async () => {
    await putTags('acme/truck-2', ['reefer']);
    const replaced = await putTags('acme/truck-2', ['adr', 'tanker']);
    expect(replaced.status).toBe(200);
    expect((await call('GET', '/vehicles/acme/truck-2', { key: viewerKey })).body.tags).toEqual([
      'adr',
      'tanker',
    ]);
    const values = (await recordsOf('acme/truck-2')).map(
      (record) => (JSON.parse(record.value.toString('utf8')) as VehicleRecord).tags,
    );
    expect(values).toEqual([['reefer'], ['adr', 'tanker']]);
  });

  it(`refuses an upper-case tag, a repeated tag, ${maxVehicleTags + 1} tags and bad ids with 422 at their JSON paths, storing nothing`, async () => {
    const cases: Array<{ path: string; body: unknown; errors: Array<{ in: string; path: string }> }> = [
      { path: 'acme/bad-1', body: { tags: ['reefer', 'Reefer'] }, errors: [{ in: 'body', path: '/tags/1' }] },
      {
        path: 'acme/bad-1',
        body: { tags: ['reefer', 'adr', 'reefer'] },
        errors: [{ in: 'body', path: '/tags/2' }],
      },
      {
        path: 'acme/bad-1',
        body: { tags: Array.from({ length: maxVehicleTags + 1 }, (_, i) => `t${i}`) },
        errors: [{ in: 'body', path: '/tags' }],
      },
      {
        path: 'acme/bad-1',
        body: { tags: ['reefer'], colour: 'red' },
        errors: [{ in: 'body', path: '/colour' }],
      },
      { path: 'acme/bad-1', body: ['reefer'], errors: [{ in: 'body', path: '' }] },
      { path: 'ac.me/bad-1', body: { tags: ['reefer'] }, errors: [{ in: 'param', path: '/fleetId' }] },
    ];
    for (const { path, body, errors } of cases) {
      const answer = await call('PUT', `/vehicles/${path}`, { key: operatorKey, body });
      expect(answer.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect({ body, status: answer.status, errors: answer.body.errors }).toEqual({
        body,
        status: 422,
        errors: errors.map((error) => expect.objectContaining(error)),
      });
    }
    expect((await call('GET', '/vehicles/acme/bad-1', { key: viewerKey })).status).toBe(404);
    expect(await recordsOf('acme/bad-1')).toEqual([]);
  });

  it('lets a viewer read vehicles but not change or delete their tags (403)', async () => {
    await putTags('acme/truck-3', ['reefer']);
    const put = await putTags('acme/truck-3', ['adr'], viewerKey);
    expect(put.status).toBe(403);
    expect(put.body.detail).toMatch(/operator/);
    expect((await call('DELETE', '/vehicles/acme/truck-3', { key: viewerKey })).status).toBe(403);
    const read = await call('GET', '/vehicles/acme/truck-3', { key: viewerKey });
    expect(read.status).toBe(200);
    expect(read.body.tags).toEqual(['reefer']);
    expect((await call('GET', '/vehicles', { key: viewerKey })).status).toBe(200);
    expect((await call('GET', '/vehicles/acme/truck-3')).status).toBe(401);
  });

  it('deletes a vehicle with a tombstone on the topic, after which it is 404 and gone from the list', async () => {
    await putTags('acme/truck-4', ['reefer']);
    const deleted = await call('DELETE', '/vehicles/acme/truck-4', { key: operatorKey });
    expect(deleted.status).toBe(204);

    const read = await call('GET', '/vehicles/acme/truck-4', { key: viewerKey });
    expect(read.status).toBe(404);
    expect(read.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(read.body.detail).toContain('acme/truck-4');
    const listed = (await call('GET', '/vehicles?fleet=acme', { key: viewerKey })).body as VehicleRecord[];
    expect(listed.map((vehicle) => vehicle.vehicleId)).not.toContain('truck-4');

    const records = await recordsOf('acme/truck-4');
    expect(records).toHaveLength(2);
    expect(records[1]!.value.length).toBe(0);
    expect((await call('DELETE', '/vehicles/acme/truck-4', { key: operatorKey })).status).toBe(404);
  });

  it('lists vehicles by fleet then vehicle, filtered by fleet, by tag, or both', async () => {
    await putTags('list-b/v-2', ['cold', 'heavy']);
    await putTags('list-a/v-9', ['cold']);
    await putTags('list-b/v-1', ['heavy']);
    await putTags('list-a/v-3', []);
    const ids = async (query: string) =>
      ((await call('GET', `/vehicles${query}`, { key: viewerKey })).body as VehicleRecord[])
        .filter((vehicle) => vehicle.fleetId.startsWith('list-'))
        .map((vehicle) => `${vehicle.fleetId}/${vehicle.vehicleId}`);

    expect(await ids('')).toEqual(['list-a/v-3', 'list-a/v-9', 'list-b/v-1', 'list-b/v-2']);
    expect(await ids('?fleet=list-b')).toEqual(['list-b/v-1', 'list-b/v-2']);
    expect(await ids('?tag=cold')).toEqual(['list-a/v-9', 'list-b/v-2']);
    expect(await ids('?fleet=list-a&tag=cold')).toEqual(['list-a/v-9']);
    expect(await ids('?tag=nothing-has-this')).toEqual([]);

    const refused = await call('GET', '/vehicles?tag=Cold&fleet=a/b&colour=red', { key: viewerKey });
    expect(refused.status).toBe(422);
    expect(refused.body.errors.map((error: { path: string }) => error.path).sort()).toEqual([
      '/colour',
      '/fleet',
      '/tag',
    ]);
  });

  it('refuses a record on fleet.vehicles whose tags break the contract: the vehicle keeps the tags it had', async () => {
    await putTags('acme/truck-5', ['reefer']);
    const kafka = new Kafka({ brokers: process.env.KAFKA_BROKERS!.split(','), logLevel: logLevel.NOTHING });
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    const broken: VehicleRecord = {
      fleetId: 'acme',
      vehicleId: 'truck-5',
      tags: ['Reefer', 'reefer'],
      changedBy: 'someone-else',
      changedAt: new Date().toISOString(),
    };
    await producer.send({
      topic: vehiclesTopic,
      acks: -1,
      messages: [{ key: 'acme/truck-5', value: JSON.stringify(broken) }],
    });
    await producer.disconnect();
    // One partition: once the api has read back a later write of its own, it has read the broken record too.
    expect((await putTags('acme/truck-6', ['adr'])).status).toBe(200);

    const read = await call('GET', '/vehicles/acme/truck-5', { key: viewerKey });
    expect(read.body).toMatchObject({ tags: ['reefer'], changedBy: operatorName });
    const refusals = apps.output
      .filter((line) => line.startsWith('api: {'))
      .map((line) => JSON.parse(line.slice('api: '.length)) as { msg?: string; key?: string; topic?: string })
      .filter((entry) => entry.msg === 'record refused' && entry.topic === vehiclesTopic);
    expect(refusals).toEqual([expect.objectContaining({ key: 'acme/truck-5' })]);
  });

  it('documents the vehicle routes in the OpenAPI document with their inputs and required roles', async () => {
    const { paths } = (await call('GET', '/docs/openapi.json')).body as {
      paths: Record<string, Record<string, Record<string, any>>>; // eslint-disable-line @typescript-eslint/no-explicit-any
    };
    const routes = Object.entries(paths)
      .filter(([path]) => /^\/vehicles(\/|$)/.test(path))
      .flatMap(([path, operations]) =>
        Object.entries(operations).map(
          ([verb, operation]) => `${verb} ${path} ${operation['x-required-role']}`,
        ),
      );
    expect(routes.sort()).toEqual([
      'delete /vehicles/{fleetId}/{vehicleId} operator',
      'get /vehicles viewer',
      'get /vehicles/{fleetId}/{vehicleId} viewer',
      'put /vehicles/{fleetId}/{vehicleId} operator',
    ]);
    expect(paths['/vehicles']!.get!.parameters.map((p: { name: string }) => p.name)).toEqual([
      'fleet',
      'tag',
    ]);
    expect(paths['/vehicles/{fleetId}/{vehicleId}']!.put).toMatchObject({
      parameters: [
        { name: 'fleetId', in: 'path', required: true, schema: { pattern: '^[A-Za-z0-9_-]{1,64}$' } },
        { name: 'vehicleId', in: 'path', required: true, schema: { pattern: '^[A-Za-z0-9_-]{1,64}$' } },
      ],
      requestBody: {
        content: {
          'application/json': {
            schema: {
              required: ['tags'],
              additionalProperties: false,
              properties: { tags: { type: 'array', maxItems: maxVehicleTags } },
            },
          },
        },
      },
    });
  });
});
