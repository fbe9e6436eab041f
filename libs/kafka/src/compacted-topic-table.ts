import { randomUUID } from 'node:crypto';
import type { Consumer, Kafka } from 'kafkajs';
import { backoffDelay, sleep } from '@fleetlog/resilience';
import { createIdempotentProducer } from './kafka-client';

/** One change of a compacted topic's table: a value, or `undefined` for a tombstone (the key was deleted). */
export interface TableChange<T> {
  key: string;
  value: T | undefined;
  partition: number;
  offset: string;
}

export interface CompactedTopicTableOptions<T> {
  topic: string;
  /** Names the throwaway consumer group: `<groupPrefix>-<uuid>`. */
  groupPrefix: string;
  /** Turns a record value into T; throwing rejects that record (reported through `onRejected`, table unchanged). */
  decode: (value: Buffer, key: string) => T;
  /** Called for every change after the first catch-up, in log order per partition. */
  onChange?: (change: TableChange<T>) => void;
  onRejected?: (change: Omit<TableChange<T>, 'value'>, error: unknown) => void;
}

/** A record was written but this table has not read it within the time given: retrying the read will see it. */
export class TableReadBackTimeout extends Error {
  readonly retriable = true;

  constructor(topic: string, partition: number, offset: bigint, timeoutMs: number) {
    super(`${topic} partition ${partition} not read up to offset ${offset} within ${timeoutMs} ms`);
    this.name = 'TableReadBackTimeout';
  }
}

interface ReadBackWaiter {
  partition: number;
  offset: bigint;
  done: () => void;
}

const maxStartAttempts = 5;

/**
 * The current table of a compacted topic (rules, webhook targets) in memory: read from the beginning at start,
 * then followed live. Each reader is its own consumer group that never commits, so every start re-reads the whole
 * table and no two readers share partitions; the broker forgets such a group once it is empty.
 */
export class CompactedTopicTable<T> {
  private readonly entries = new Map<string, T>();
  private readonly consumer: Consumer;
  private caughtUp = false;
  /** Per partition, the offset after the last record read (applied or rejected). */
  private readonly readUpTo = new Map<number, bigint>();
  private waiters: ReadBackWaiter[] = [];

  constructor(
    private readonly kafka: Kafka,
    private readonly options: CompactedTopicTableOptions<T>,
  ) {
    this.consumer = kafka.consumer({
      groupId: `${options.groupPrefix}-${randomUUID()}`,
      // The broker answers a waiting fetch as soon as a record arrives, so the wait adds no latency to a change;
      // it only sets how often an idle table asks again. These tables change rarely, and this reader never commits
      // (a commit would queue behind the waiting fetch on the same connection).
      maxWaitTimeInMs: 1_000,
    });
  }

  /** Resolves once everything the topic held at start has been read into the table. */
  async start(): Promise<void> {
    const ends = await this.endOffsets();
    const remaining = new Map(
      ends
        .filter(({ high, low }) => BigInt(high) > BigInt(low))
        .map(({ partition, high }) => [partition, BigInt(high)]),
    );
    let markCaughtUp!: () => void;
    const initialRead = new Promise<void>((resolve) => (markCaughtUp = resolve));
    const checkCaughtUp = () => {
      if (!this.caughtUp && remaining.size === 0) {
        this.caughtUp = true;
        markCaughtUp();
      }
    };
    checkCaughtUp();
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [this.options.topic], fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        this.apply(partition, message.offset, message.key?.toString('utf8'), message.value);
        const end = remaining.get(partition);
        if (end !== undefined && BigInt(message.offset) + 1n >= end) {
          remaining.delete(partition);
          checkCaughtUp();
        }
      },
    });
    await initialRead;
  }

  async stop(): Promise<void> {
    await this.consumer.disconnect();
  }

  /**
   * Writes `records` if nothing was ever written to the topic (a compacted topic whose keys were all deleted still
   * has offsets, so a deliberate emptying is not undone); returns whether it did. Call before `start`. Two processes
   * seeding at once write the same records twice, which compaction folds.
   */
  async seedIfNeverWritten(records: ReadonlyArray<{ key: string; value: string }>): Promise<boolean> {
    const ends = await this.endOffsets();
    if (!ends.every(({ high }) => high === '0')) return false;
    const producer = createIdempotentProducer(this.kafka);
    await producer.connect();
    try {
      await producer.send({ topic: this.options.topic, acks: -1, messages: [...records] });
    } finally {
      await producer.disconnect();
    }
    return true;
  }

  /**
   * Resolves once the table has read the record at `offset` of `partition` (one this process just wrote), so that
   * a writer's next read sees its own write.
   */
  readBack(partition: number, offset: bigint, timeoutMs: number): Promise<void> {
    if ((this.readUpTo.get(partition) ?? 0n) > offset) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter: ReadBackWaiter = {
        partition,
        offset,
        done: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((other) => other !== waiter);
        reject(new TableReadBackTimeout(this.options.topic, partition, offset, timeoutMs));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  get(key: string): T | undefined {
    return this.entries.get(key);
  }

  values(): T[] {
    return [...this.entries.values()];
  }

  /** Whether the table holds everything the topic held at start. */
  get ready(): boolean {
    return this.caughtUp;
  }

  /**
   * Just after the topic is created a broker may not know its leader yet and refuse the offsets request with a
   * retriable error, which kafkajs' admin does not retry; nothing has been read yet, so asking again is safe.
   */
  private async endOffsets() {
    for (let attempt = 1; ; attempt++) {
      const admin = this.kafka.admin();
      try {
        await admin.connect();
        return await admin.fetchTopicOffsets(this.options.topic);
      } catch (error) {
        if (!(error as { retriable?: boolean }).retriable || attempt >= maxStartAttempts) throw error;
        await sleep(backoffDelay(attempt, { initialMs: 200, maxMs: 2_000 }));
      } finally {
        await admin.disconnect();
      }
    }
  }

  private apply(partition: number, offset: string, key: string | undefined, value: Buffer | null): void {
    this.read(partition, offset, key, value);
    const upTo = BigInt(offset) + 1n;
    this.readUpTo.set(partition, upTo);
    const isRead = (waiter: ReadBackWaiter) => waiter.partition === partition && waiter.offset < upTo;
    const done = this.waiters.filter(isRead);
    this.waiters = this.waiters.filter((waiter) => !isRead(waiter));
    for (const waiter of done) waiter.done();
  }

  private read(partition: number, offset: string, key: string | undefined, value: Buffer | null): void {
    if (key === undefined) {
      this.options.onRejected?.({ key: '', partition, offset }, new Error('record without a key'));
      return;
    }
    let decoded: T | undefined;
    if (value !== null) {
      try {
        decoded = this.options.decode(value, key);
      } catch (error) {
        this.options.onRejected?.({ key, partition, offset }, error);
        return;
      }
    }
    if (decoded === undefined) this.entries.delete(key);
    else this.entries.set(key, decoded);
    if (this.caughtUp) this.options.onChange?.({ key, value: decoded, partition, offset });
  }
}
