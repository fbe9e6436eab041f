import { Client } from '@elastic/elasticsearch';
import { BulkWriteError, BulkWriter } from '@fleetlog/elasticsearch';
import { freePort } from '../../tools/main/app-process';
import { testNamespace } from '../support/test-namespace';

/** BulkWriter against a real Elasticsearch: what it stores, what counts as already written, what it gives back. */
describe('BulkWriter', () => {
  const index = `${testNamespace('it')}-bulk`;
  const elasticsearch = new Client({ node: process.env.ELASTICSEARCH_URL! });
  const writer = new BulkWriter(elasticsearch, { maxAttempts: 3, backoff: { initialMs: 10, maxMs: 50 } });

  beforeAll(async () => {
    await elasticsearch.indices.create({
      index,
      mappings: { dynamic: false, properties: { speedKph: { type: 'float' } } },
    });
  });

  afterAll(async () => {
    await elasticsearch.indices.delete({ index }, { ignore: [404] });
    await elasticsearch.close();
  });

  it('stores good documents, treats a repeated create as written, and returns what the mapping refuses', async () => {
    const good = { index, id: 'a', document: { speedKph: 50 }, action: 'create' as const };
    expect(await writer.write([good])).toEqual([]);
    const refused = { index, id: 'b', document: { speedKph: 'fast' }, action: 'create' as const };
    const rejected = await writer.write([good, refused, { ...good, id: 'c' }]);
    expect(rejected).toEqual([
      {
        write: refused,
        status: 400,
        reason: expect.stringMatching(/^document_parsing_exception|^mapper_parsing_exception/),
      },
    ]);
    await elasticsearch.indices.refresh({ index });
    const stored = await elasticsearch.search({ index, query: { match_all: {} } });
    expect(stored.hits.hits.map((hit) => hit._id).sort()).toEqual(['a', 'c']);
  });

  it('waits out a read-only block (the flood-stage disk watermark) and stores everything once it is lifted', async () => {
    const patient = new BulkWriter(elasticsearch, {
      maxAttempts: 30,
      backoff: { initialMs: 100, maxMs: 300 },
    });
    const block = (blocked: boolean) =>
      elasticsearch.indices.putSettings({
        index,
        settings: { 'index.blocks.read_only_allow_delete': blocked ? true : null },
      });
    await block(true);
    const writing = patient.write([{ index, id: 'blocked', document: { speedKph: 1 }, action: 'create' }]);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await block(false);
    expect(await writing).toEqual([]);
    expect((await elasticsearch.get({ index, id: 'blocked' })).found).toBe(true);
  });

  it('calls a write Elasticsearch never answered retriable, so the batch is retried rather than given up', async () => {
    const nowhere = new Client({ node: `http://127.0.0.1:${await freePort()}`, maxRetries: 0 });
    const unreachable = new BulkWriter(nowhere, { maxAttempts: 2, backoff: { initialMs: 10, maxMs: 20 } });
    const failure = await unreachable
      .write([{ index, id: 'lost', document: { speedKph: 1 }, action: 'create' }])
      .catch((error: unknown) => error);
    await nowhere.close();
    expect(failure).toBeInstanceOf(BulkWriteError);
    expect(failure).toMatchObject({ retriable: true });
  });

  it('splits a large write into bulk requests of bounded size, heartbeating between them, and stores every document', async () => {
    const bounded = new BulkWriter(elasticsearch, {
      maxAttempts: 3,
      backoff: { initialMs: 10, maxMs: 50 },
      maxDocumentsPerRequest: 10,
    });
    const requests: number[] = [];
    elasticsearch.diagnostic.on('request', (_error, event) => {
      const { path, body } = event?.meta.request.params ?? {};
      if (path === '/_bulk' && typeof body === 'string')
        requests.push(body.split('\n').filter(Boolean).length / 2);
    });
    let heartbeats = 0;
    const writes = Array.from({ length: 25 }, (_, n) => ({
      index,
      id: `split-${n}`,
      document: { speedKph: n },
      action: 'create' as const,
    }));
    expect(await bounded.write(writes, async () => void heartbeats++)).toEqual([]);
    await elasticsearch.indices.refresh({ index });
    const stored = await elasticsearch.count({
      index,
      query: { ids: { values: writes.map(({ id }) => id) } },
    });
    expect(stored.count).toBe(25);
    expect(requests).toEqual([10, 10, 5]);
    expect(heartbeats).toBe(2);
  });
});
