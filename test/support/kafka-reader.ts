import { randomBytes } from 'node:crypto';
import { Kafka, logLevel, type KafkaMessage } from 'kafkajs';

export interface ReadRecord {
  key: string | undefined;
  value: Buffer;
  partition: number;
  offset: string;
}

/**
 * Reads a topic from its beginning in a group of its own until `enough` says so or the time is up, then returns
 * what it read. Used to count what really reached the log.
 */
export async function readTopic(
  topic: string,
  enough: (records: ReadRecord[]) => boolean,
  timeoutMs: number,
): Promise<ReadRecord[]> {
  const kafka = new Kafka({ brokers: process.env.KAFKA_BROKERS!.split(','), logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({
    groupId: `test-reader-${randomBytes(4).toString('hex')}`,
    maxWaitTimeInMs: 100,
  });
  const records: ReadRecord[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    let done: () => void = () => undefined;
    const finished = new Promise<void>((resolve) => (done = resolve));
    await consumer.run({
      eachBatch: async ({ batch }) => {
        records.push(...batch.messages.map((message: KafkaMessage) => toRecord(message, batch.partition)));
        if (enough(records)) done();
      },
    });
    await Promise.race([finished, new Promise((resolve) => setTimeout(resolve, timeoutMs))]);
    return records;
  } finally {
    await consumer.disconnect();
  }
}

function toRecord(message: KafkaMessage, partition: number): ReadRecord {
  return {
    key: message.key?.toString(),
    value: message.value ?? Buffer.alloc(0),
    partition,
    offset: message.offset,
  };
}

/**
 * Everything the topic holds now: reads from its beginning until each partition's end as it was at the call (its high
 * watermark), so that nothing already written, a duplicate included, is missed. Transaction markers and aborted
 * records count as read without being returned (read_committed). Fails if the end is not reached in time.
 */
export async function readTopicToEnd(topic: string, timeoutMs: number): Promise<ReadRecord[]> {
  const kafka = new Kafka({ brokers: process.env.KAFKA_BROKERS!.split(','), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic).finally(() => admin.disconnect());
  const pending = new Map(
    ends
      .filter(({ high, low }) => BigInt(high) > BigInt(low))
      .map(({ partition, high }) => [partition, BigInt(high)]),
  );
  const consumer = kafka.consumer({
    groupId: `test-reader-${randomBytes(4).toString('hex')}`,
    maxWaitTimeInMs: 100,
  });
  const records: ReadRecord[] = [];
  let done: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (done = resolve));
  // Emitted for every fetched batch, also those holding only markers or aborted records, which eachBatch never sees.
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    const end = pending.get(payload.partition);
    if (end !== undefined && BigInt(payload.lastOffset) + 1n >= end) pending.delete(payload.partition);
    if (pending.size === 0) done();
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        records.push(...batch.messages.map((message: KafkaMessage) => toRecord(message, batch.partition)));
      },
    });
    if (pending.size === 0) done();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    await Promise.race([finished, timedOut]);
    clearTimeout(timer);
    if (pending.size > 0) {
      throw new Error(
        `${topic} not read to its end within ${timeoutMs} ms: partitions ${[...pending.keys()]}`,
      );
    }
    return records;
  } finally {
    await consumer.disconnect();
  }
}
