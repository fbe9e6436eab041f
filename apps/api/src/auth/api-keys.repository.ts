import { Injectable } from '@nestjs/common';
import { ApiElasticsearch } from '../elasticsearch';
import type { ApiRole } from './require-role';

export interface ApiKeyRecord {
  id: string;
  name: string;
  role: ApiRole;
  /** SHA-256 of the key: the key itself is shown once, at creation, and never stored. */
  hash: string;
  createdBy: string;
  createdAt: string;
  revokedAt?: string;
}

export type ApiKeyView = Omit<ApiKeyRecord, 'hash'>;

/** API keys in their own index, each document under the hash of its key: a lookup is a real-time GET. */
@Injectable()
export class ApiKeysRepository {
  constructor(private readonly elasticsearch: ApiElasticsearch) {}

  private get index(): string {
    return this.elasticsearch.indices.apiKeys;
  }

  async create(record: ApiKeyRecord): Promise<void> {
    // wait_for: the key is listed, and revocable by id, as soon as its creator has it.
    await this.elasticsearch.client.create({
      index: this.index,
      id: record.hash,
      document: record,
      refresh: 'wait_for',
    });
  }

  async findByHash(hash: string): Promise<ApiKeyRecord | undefined> {
    const response = await this.elasticsearch.client.get<ApiKeyRecord>(
      { index: this.index, id: hash },
      { ignore: [404] },
    );
    return response.found ? response._source : undefined;
  }

  async list(): Promise<ApiKeyView[]> {
    const response = await this.elasticsearch.client.search<ApiKeyView>({
      index: this.index,
      size: 10_000,
      sort: [{ createdAt: 'desc' }],
      _source: { excludes: ['hash'] },
    });
    return response.hits.hits.map((hit) => hit._source!);
  }

  /** Marks the key revoked (once: a second revocation keeps the first time); undefined if there is no such key. */
  async revoke(id: string, at: string): Promise<ApiKeyRecord | undefined> {
    const response = await this.elasticsearch.client.search<ApiKeyRecord>({
      index: this.index,
      size: 1,
      query: { term: { id } },
    });
    const hit = response.hits.hits[0];
    if (!hit) return undefined;
    const record = hit._source!;
    if (record.revokedAt) return record;
    await this.elasticsearch.client.update({
      index: this.index,
      id: hit._id!,
      doc: { revokedAt: at },
      refresh: 'wait_for',
    });
    return { ...record, revokedAt: at };
  }
}
