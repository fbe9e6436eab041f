import type { Admin, Kafka } from 'kafkajs';
import { LatencyHistogram } from './latency-histogram.ts';
import { sentAtOf } from './telemetry-load.ts';

/**
 * The telemetry topic, created before the gateway starts (which then finds it and leaves it as it is) with the
 * partitions the gateway would give it, but stamped by the broker: each record carries the time Kafka appended it,
 * so latency is read from the log afterwards, without a consumer polling (and competing for CPU) during the run.
 */
export async function createLogAppendTimeTopic(
  admin: Admin,
  topic: string,
  partitions: number,
): Promise<void> {
  await admin.createTopics({
    waitForLeaders: true,
    topics: [
      {
        topic,
        numPartitions: partitions,
        replicationFactor: -1,
        configEntries: [{ name: 'message.timestamp.type', value: 'LogAppendTime' }],
      },
    ],
  });
}

/** Records in the topics so far: the sum of their partitions' high watermarks (the topics start empty). */
export async function recordCount(admin: Admin, topics: string[]): Promise<number> {
  let count = 0;
  for (const topic of topics) {
    for (const partition of await admin.fetchTopicOffsets(topic)) count += Number(partition.high);
  }
  return count;
}

export interface SendWindow {
  from: number;
  to: number;
}

/** Kafka stamps whole milliseconds: the append happened somewhere within that millisecond, on average half-way. */
const appendTimeResolutionMs = 1;

/**
 * Reads the whole topic once and returns, for each window, the latency from the publisher's send time (in the
 * record's `ext.sentAt`) to Kafka's append time, of the records sent within that window.
 */
export async function appendLatencies(
  kafka: Kafka,
  groupId: string,
  topic: string,
  expectedRecords: number,
  windows: SendWindow[],
  timeoutMs: number,
): Promise<LatencyHistogram[]> {
  const histograms = windows.map(() => new LatencyHistogram());
  const consumer = kafka.consumer({ groupId });
  let read = 0;
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    const finished = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`read ${read} of ${expectedRecords} records within ${timeoutMs} ms`)),
        timeoutMs,
      );
      void consumer.run({
        eachBatch: async ({ batch }) => {
          for (const message of batch.messages) {
            const sentAt = sentAtOf(message.value!.toString('latin1'));
            const window = windows.findIndex(({ from, to }) => sentAt >= from && sentAt < to);
            if (window >= 0) {
              const appendedAt = Number(message.timestamp) + appendTimeResolutionMs / 2;
              histograms[window]!.record(appendedAt - sentAt);
            }
          }
          read += batch.messages.length;
          if (read >= expectedRecords) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
    await finished;
    return histograms;
  } finally {
    await consumer.disconnect();
  }
}
