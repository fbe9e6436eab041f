import { randomBytes } from 'node:crypto';
import { Client } from '@elastic/elasticsearch';
import { BulkWriter } from '@fleetlog/elasticsearch';

/** BulkWriter against a real Elasticsearch: what it stores, what counts as already written, what it gives back. */
describe('BulkWriter', () => {
  const index = `it-${randomBytes(4).toString('hex')}-bulk`;
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
});
