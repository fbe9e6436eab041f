import type { Client, estypes } from '@elastic/elasticsearch';
import { backoffDelay, sleep, type BackoffPolicy } from '@fleetlog/resilience';

export interface DocumentWrite {
  index: string;
  id: string;
  document: object;
  /** `create` never overwrites (a 409 means it was written before); `index` replaces, for documents that evolve. */
  action: 'create' | 'index';
}

/** A document Elasticsearch refused for a reason that retrying cannot fix. */
export interface RejectedWrite {
  write: DocumentWrite;
  status: number;
  reason: string;
}

export interface BulkWriterOptions {
  maxAttempts: number;
  backoff: BackoffPolicy;
  /** The most documents in one bulk request (default 5,000, a few MB of telemetry); larger writes are split. */
  maxDocumentsPerRequest?: number;
}

/**
 * A consumer far behind hands over whole fetches (cep: up to 8 MiB per partition, all partitions at once), tens of
 * MB. As one request that took Elasticsearch (512 MB heap here) longer than the client's 30 s timeout, and the
 * retry sent it all again: the consumer never caught up.
 */
const defaultMaxDocumentsPerRequest = 5_000;

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
 * Worth asking again: overload, a gateway in between, or no answer at all (status 0 or none: refused, reset, timed
 * out), which is Elasticsearch restarting or out of reach for a while.
 */
const isRetriableStatus = (status: number | undefined) =>
  status === undefined || status === 0 || retriableStatuses.has(status);

/**
 * A block on the index or cluster (the flood-stage disk watermark's read_only_allow_delete, an operator's write
 * block) refuses every document alike until it is lifted: waiting, not parking documents by the thousand, is right.
 */
const isBlocked = (error: estypes.ErrorCause) => error.type === 'cluster_block_exception';

/**
 * Bulk requests of bounded size with explicit ids, checking every item: items rejected for load or by a write block, and
 * requests that got no answer, are retried with backoff and jitter; a 409 on `create` counts as written. It resolves only when every document is stored or
 * returned as rejected for good (the caller parks those), so the caller may commit the Kafka offsets behind them;
 * otherwise it throws and the caller must not commit.
 */
export class BulkWriter {
  constructor(
    private readonly client: Client,
    private readonly options: BulkWriterOptions,
  ) {}

  /**
   * `whileWaiting` runs between requests and attempts: a Kafka consumer's heartbeat, so that a long write or waiting
   * out an Elasticsearch restart does not also cost the consumer its group membership (and the partitions a rebuild
   * from the log).
   */
  async write(
    writes: readonly DocumentWrite[],
    whileWaiting: () => Promise<void> = async () => undefined,
  ): Promise<RejectedWrite[]> {
    const rejected: RejectedWrite[] = [];
    const perRequest = this.options.maxDocumentsPerRequest ?? defaultMaxDocumentsPerRequest;
    let pending = writes;
    for (let attempt = 1; pending.length > 0; attempt++) {
      const retry: DocumentWrite[] = [];
      for (let start = 0; start < pending.length; start += perRequest) {
        if (start > 0) await whileWaiting();
        const outcome = await this.attempt(pending.slice(start, start + perRequest));
        retry.push(...outcome.retry);
        rejected.push(...outcome.fatal);
      }
      if (retry.length > 0 && attempt >= this.options.maxAttempts) {
        throw new BulkWriteError(`${retry.length} document(s) still refused after ${attempt} attempts`, true);
      }
      if (retry.length > 0) {
        await whileWaiting();
        await sleep(backoffDelay(attempt, this.options.backoff));
      }
      pending = retry;
    }
    return rejected;
  }

  private async attempt(
    writes: readonly DocumentWrite[],
  ): Promise<{ retry: DocumentWrite[]; fatal: RejectedWrite[] }> {
    const operations = writes.flatMap((write) => [
      { [write.action]: { _index: write.index, _id: write.id } },
      write.document,
    ]);
    let response: estypes.BulkResponse;
    try {
      response = await this.client.bulk({ operations, refresh: false });
    } catch (error) {
      const status = (error as { meta?: { statusCode?: number } }).meta?.statusCode;
      if (isRetriableStatus(status)) return { retry: [...writes], fatal: [] };
      throw new BulkWriteError(`bulk request failed with HTTP ${status}: ${(error as Error).message}`, false);
    }
    const retry: DocumentWrite[] = [];
    const fatal: RejectedWrite[] = [];
    response.items.forEach((item, position) => {
      const result = item.create ?? item.index;
      if (!result?.error) return;
      const write = writes[position]!;
      if (write.action === 'create' && result.status === 409) return;
      if (retriableStatuses.has(result.status) || isBlocked(result.error)) retry.push(write);
      else
        fatal.push({
          write,
          status: result.status,
          reason: `${result.error.type}: ${result.error.reason ?? ''}`,
        });
    });
    return { retry, fatal };
  }
}
