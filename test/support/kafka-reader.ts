import { randomBytes } from 'node:crypto';
import { Kafka, logLevel, type KafkaMessage } from 'kafkajs';

export interface ReadRecord {
  key: string | undefined;
  value: Buffer;
  partition: number;
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
  return { key: message.key?.toString(), value: message.value ?? Buffer.alloc(0), partition };
}
