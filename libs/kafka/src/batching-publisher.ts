import type { Producer } from 'kafkajs';
import type { Logger } from 'pino';
import { backoffDelay, sleep, type BackoffPolicy } from '@fleetlog/resilience';
import { maxProduceRequestBytes, recordBytes } from './produce-size';
import { offsetsInRequest } from './record-positions';
import { RenewableProducer } from './renewable-producer';

export interface OutgoingRecord {
  topic: string;
  key: string;
  value: string | Buffer;
  /** Set by `publishAt`; otherwise Kafka's default partitioner picks the partition from the key. */
  partition?: number;
}

interface Pending extends OutgoingRecord {
  /** With the record's offset when it and every record of its topic in the batch named their partition. */
  acknowledged: (offset: bigint | undefined) => void;
  failed: (error: Error) => void;
}

export interface BatchingPublisherOptions {
  /** How long a record may wait for companions before its batch is sent. */
  lingerMs: number;
  maxBatchRecords: number;
  /** Pause between two attempts at a batch Kafka refused. */
  retry: BackoffPolicy;
}

/**
 * Broker answers meaning it no longer knows this producer's sequence numbers (restarted without its producer state,
 * or the producer id expired): resending with the same producer id can then never succeed.
 */
const producerStateLost = new Set([
  'OUT_OF_ORDER_SEQUENCE_NUMBER',
  'UNKNOWN_PRODUCER_ID',
  'INVALID_PRODUCER_EPOCH',
  'INVALID_PRODUCER_ID_MAPPING',
]);

/**
 * Gathers records from many concurrent callers into few produce requests (kafkajs does not batch across send
 * calls), and resolves each caller's promise only when Kafka has acknowledged that record. One request is in flight
 * at a time, which keeps the idempotent producer's ordering guarantee; the next batch fills up meanwhile and is sent
 * as soon as the one in flight is acknowledged (group commit), so a slow answer from the broker costs one larger
 * request rather than a queue of small ones.
 *
 * A batch Kafka refused is sent again unchanged until it is acknowledged (see RenewableProducer for why re-batching
 * its records could lose the next batch).
 */
export class BatchingPublisher {
  private readonly producer: RenewableProducer;
  private queue: Pending[] = [];
  private queuedBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private sending: Promise<void> = Promise.resolve();
  private batchesInFlight = 0;
  private closing = false;

  constructor(
    createProducer: () => Producer,
    private readonly options: BatchingPublisherOptions,
    private readonly logger: Logger,
  ) {
    this.producer = new RenewableProducer(createProducer);
  }

  get connected(): boolean {
    return this.producer.connected;
  }

  connect(): Promise<void> {
    return this.producer.connect();
  }

  async publish(record: Omit<OutgoingRecord, 'partition'>): Promise<void> {
    await this.enqueue(record);
  }

  /**
   * Publishes to the given partition and resolves with the offset Kafka stored the record at. Every record of that
   * topic must go through `publishAt`: the offsets are counted from each partition's first offset in the batch.
   */
  async publishAt(record: OutgoingRecord & { partition: number }): Promise<bigint> {
    const offset = await this.enqueue(record);
    if (offset === undefined)
      throw new Error(`records of ${record.topic} were published without a partition beside this one`);
    return offset;
  }

  /**
   * Sends what is queued, stops resending refused batches (their records are rejected, so nobody acknowledges
   * them), and disconnects once everything has been acknowledged or rejected.
   */
  async close(): Promise<void> {
    this.closing = true;
    this.flush();
    while (this.batchesInFlight > 0) await this.sending;
    await this.producer.disconnect();
  }

  private enqueue(record: OutgoingRecord): Promise<bigint | undefined> {
    return new Promise((acknowledged, failed) => {
      this.queue.push({ ...record, acknowledged, failed });
      this.queuedBytes += recordBytes(record);
      // Bounded in bytes too: a batch the broker refuses as too large would be resent unchanged for ever.
      if (this.queue.length >= this.options.maxBatchRecords || this.queuedBytes >= maxProduceRequestBytes)
        this.flush();
      else if (this.batchesInFlight === 0)
        this.timer ??= setTimeout(() => this.flush(), this.options.lingerMs);
    });
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    this.queuedBytes = 0;
    this.batchesInFlight++;
    this.sending = this.sending
      .then(() => this.sendUntilAcknowledged(batch))
      .finally(() => {
        if (--this.batchesInFlight === 0) this.flush();
      });
  }

  private async sendUntilAcknowledged(batch: Pending[]): Promise<void> {
    const topicMessages = groupByTopic(batch);
    for (let attempt = 1; ; attempt++) {
      try {
        const stored = await this.producer.sendBatch({ acks: -1, topicMessages });
        const offsets = offsetsInRequest(batch, stored);
        batch.forEach((record, index) => record.acknowledged(offsets[index]));
        return;
      } catch (error) {
        if (this.closing) {
          for (const record of batch) record.failed(error as Error);
          return;
        }
        if (attempt === 1 || attempt % 10 === 0) {
          this.logger.warn(
            { err: error, attempt, records: batch.length },
            'Kafka refused a batch; resending it',
          );
        }
        if (producerStateLost.has(protocolErrorType(error))) {
          this.logger.warn(
            { err: error },
            'Kafka no longer knows this producer; resending under a new producer id, which may duplicate the batch',
          );
          await this.producer.renew();
        }
        await sleep(backoffDelay(attempt, this.options.retry));
      }
    }
  }
}

function groupByTopic(
  batch: Pending[],
): Array<{ topic: string; messages: Array<Omit<OutgoingRecord, 'topic'>> }> {
  const byTopic = new Map<string, Array<Omit<OutgoingRecord, 'topic'>>>();
  for (const { topic, key, value, partition } of batch) {
    let messages = byTopic.get(topic);
    if (!messages) byTopic.set(topic, (messages = []));
    messages.push({ key, value, partition });
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
}

/** kafkajs wraps the broker's error in the one that ended its retries. */
function protocolErrorType(error: unknown): string {
  const { type, cause } = error as { type?: string; cause?: { type?: string } };
  return type ?? cause?.type ?? '';
}
