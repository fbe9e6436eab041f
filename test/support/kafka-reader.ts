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
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([finished, new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    // A timer left running would keep Jest from exiting for the rest of its time.
    clearTimeout(timer);
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

export interface OpenTransactionTail {
  partition: number;
  /** Where a read_committed reader stops: the partition's last stable offset. */
  stable: string;
  /** The end of the partition's log, uncommitted records included: its high watermark. */
  end: string;
}

/**
 * Partitions of the topic with a transaction open on them: a read_committed reader (readTopicToEnd, cep) sees nothing
 * there past the transaction's first record until the transaction is committed or aborted, the latter by the broker
 * once its timeout has passed (kafkajs' default: 60 s) should its producer be dead. kafkajs' admin answers offsets
 * read_committed, i.e. last stable offsets; the high watermarks come from a read_uncommitted fetch.
 */
export async function openTransactionTails(topic: string, timeoutMs: number): Promise<OpenTransactionTail[]> {
  const kafka = new Kafka({ brokers: process.env.KAFKA_BROKERS!.split(','), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const stable = await admin.fetchTopicOffsets(topic).finally(() => admin.disconnect());
  const consumer = kafka.consumer({
    groupId: `test-reader-${randomBytes(4).toString('hex')}`,
    maxWaitTimeInMs: 100,
    readUncommitted: true,
  });
  const ends = new Map<number, string>();
  let fetches = 0;
  let done: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (done = resolve));
  // From the beginning, the first fetch returns records of every partition holding any, uncommitted ones included;
  // the next fetch starts only once those batches are through.
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) =>
    ends.set(payload.partition, String(payload.highWatermark)),
  );
  consumer.on(consumer.events.FETCH_START, () => {
    if (++fetches >= 2 && stable.every(({ partition, high }) => high === '0' || ends.has(partition))) done();
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ eachBatch: async () => undefined });
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>(
      (resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)),
    );
    const outcome = await Promise.race([finished, timedOut]);
    clearTimeout(timer);
    if (outcome === 'timeout')
      throw new Error(`${topic}: high watermarks not fetched within ${timeoutMs} ms`);
    return stable
      .map(({ partition, high }) => ({ partition, stable: high, end: ends.get(partition) ?? high }))
      .filter(({ stable: at, end }) => BigInt(end) > BigInt(at));
  } finally {
    await consumer.disconnect();
  }
}
