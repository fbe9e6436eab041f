import type { Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';

export interface ConsumedRecord {
  topic: string;
  partition: number;
  offset: string;
  key: string | undefined;
  value: Buffer;
}

/** `heartbeat` keeps the group membership alive during long work (slow sinks, webhook retries). */
export type BatchHandler = (records: ConsumedRecord[], heartbeat: () => Promise<void>) => Promise<void>;

export interface BatchConsumerOptions {
  groupId: string;
  topics: string[];
  fromBeginning: boolean;
  /** How long the broker may hold a fetch waiting for data; kafkajs' default of 5 s is latency we do not want. */
  maxWaitTimeInMs: number;
}

/**
 * A kafkajs consumer driven batch by batch, committing a batch's offsets only after the handler has finished with
 * every record in it (sinks confirmed). A handler that throws makes kafkajs fetch the batch again: at-least-once.
 */
export class BatchConsumer {
  private readonly consumer: Consumer;
  private joined = false;

  constructor(
    kafka: Kafka,
    private readonly options: BatchConsumerOptions,
  ) {
    this.consumer = kafka.consumer({
      groupId: options.groupId,
      maxWaitTimeInMs: options.maxWaitTimeInMs,
      retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 300, maxRetryTime: 10_000 },
    });
    this.consumer.on(this.consumer.events.GROUP_JOIN, () => (this.joined = true));
    this.consumer.on(this.consumer.events.CRASH, () => (this.joined = false));
    this.consumer.on(this.consumer.events.STOP, () => (this.joined = false));
  }

  /** Ready means: member of the consumer group and fetching. */
  get ready(): boolean {
    return this.joined;
  }

  async start(handle: BatchHandler): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: this.options.topics, fromBeginning: this.options.fromBeginning });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: (payload) => this.handleBatch(payload, handle),
    });
  }

  async stop(): Promise<void> {
    await this.consumer.disconnect();
  }

  private async handleBatch(payload: EachBatchPayload, handle: BatchHandler): Promise<void> {
    const { batch } = payload;
    if (batch.messages.length === 0) return;
    const records = batch.messages.map((message) => toRecord(batch.topic, batch.partition, message));
    await handle(records, () => payload.heartbeat());
    payload.resolveOffset(batch.lastOffset());
    await payload.commitOffsetsIfNecessary({
      topics: [
        {
          topic: batch.topic,
          partitions: [{ partition: batch.partition, offset: (BigInt(batch.lastOffset()) + 1n).toString() }],
        },
      ],
    });
    await payload.heartbeat();
  }
}

function toRecord(topic: string, partition: number, message: KafkaMessage): ConsumedRecord {
  return {
    topic,
    partition,
    offset: message.offset,
    key: message.key?.toString(),
    value: message.value ?? Buffer.alloc(0),
  };
}
