import { randomUUID } from 'node:crypto';
import type { Consumer, Kafka } from 'kafkajs';

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

/**
 * The current table of a compacted topic (rules, webhook targets) in memory: read from the beginning at start,
 * then followed live. Each reader is its own consumer group that never commits, so every start re-reads the whole
 * table and no two readers share partitions; the broker forgets such a group once it is empty.
 */
export class CompactedTopicTable<T> {
  private readonly entries = new Map<string, T>();
  private readonly consumer: Consumer;
  private caughtUp = false;

  constructor(
    private readonly kafka: Kafka,
    private readonly options: CompactedTopicTableOptions<T>,
  ) {
    this.consumer = kafka.consumer({
      groupId: `${options.groupPrefix}-${randomUUID()}`,
      maxWaitTimeInMs: 100,
    });
  }

  /** Resolves once everything the topic held at start has been read into the table. */
  async start(): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    const ends = await admin.fetchTopicOffsets(this.options.topic).finally(() => admin.disconnect());
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

  private apply(partition: number, offset: string, key: string | undefined, value: Buffer | null): void {
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
