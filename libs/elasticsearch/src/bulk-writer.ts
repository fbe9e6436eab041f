import type { Client, estypes } from '@elastic/elasticsearch';
import { backoffDelay, sleep, type BackoffPolicy } from '@fleetlog/resilience';

export interface DocumentWrite {
  index: string;
  id: string;
  document: object;
  /** `create` never overwrites (a 409 means it was written before); `index` replaces, for documents that evolve. */
  action: 'create' | 'index';
}

export interface BulkWriterOptions {
  maxAttempts: number;
  backoff: BackoffPolicy;
}

export class BulkWriteError extends Error {
  constructor(
    message: string,
    readonly retriable: boolean,
  ) {
    super(message);
    this.name = 'BulkWriteError';
  }
}

const retriableStatuses = new Set([429, 502, 503, 504]);

/**
 * One bulk request per call with explicit ids, checking every item: items rejected for load are retried with
 * backoff and jitter; a 409 on `create` counts as written. It resolves only when every document is stored, so the
 * caller may commit the Kafka offsets behind them; otherwise it throws and the caller must not commit.
 */
export class BulkWriter {
  constructor(
    private readonly client: Client,
    private readonly options: BulkWriterOptions,
  ) {}

  async write(writes: readonly DocumentWrite[]): Promise<void> {
    let pending = writes;
    for (let attempt = 1; pending.length > 0; attempt++) {
      const { retry, fatal } = await this.attempt(pending);
      if (fatal.length > 0) {
        throw new BulkWriteError(
          `Elasticsearch rejected ${fatal.length} document(s): ${fatal.slice(0, 3).join('; ')}`,
          false,
        );
      }
      if (retry.length > 0 && attempt >= this.options.maxAttempts) {
        throw new BulkWriteError(`${retry.length} document(s) still refused after ${attempt} attempts`, true);
      }
      if (retry.length > 0) await sleep(backoffDelay(attempt, this.options.backoff));
      pending = retry;
    }
  }

  private async attempt(
    writes: readonly DocumentWrite[],
  ): Promise<{ retry: DocumentWrite[]; fatal: string[] }> {
    const operations = writes.flatMap((write) => [
      { [write.action]: { _index: write.index, _id: write.id } },
      write.document,
    ]);
    let response: estypes.BulkResponse;
    try {
      response = await this.client.bulk({ operations, refresh: false });
    } catch (error) {
      const status = (error as { meta?: { statusCode?: number } }).meta?.statusCode;
      if (status === undefined || retriableStatuses.has(status)) return { retry: [...writes], fatal: [] };
      throw new BulkWriteError(`bulk request failed with HTTP ${status}: ${(error as Error).message}`, false);
    }
    const retry: DocumentWrite[] = [];
    const fatal: string[] = [];
    response.items.forEach((item, position) => {
      const result = item.create ?? item.index;
      if (!result?.error) return;
      const write = writes[position]!;
      if (write.action === 'create' && result.status === 409) return;
      if (retriableStatuses.has(result.status)) retry.push(write);
      else fatal.push(`${write.index}/${write.id}: ${result.error.type} ${result.error.reason ?? ''}`);
    });
    return { retry, fatal };
  }
}
