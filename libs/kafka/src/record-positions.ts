import { Partitioners, type RecordMetadata } from 'kafkajs';

/** A record whose place in the log is known. */
export interface RecordPosition {
  partition: number;
  offset: bigint;
}

/**
 * Each record's offset after one produce request, where it can be known: Kafka appends a partition's records of a
 * request in the order sent, from the base offset it answers with, so counting is exact when every record of the
 * topic named its partition. A topic with a record left to the partitioner gets no offsets.
 */
export function offsetsInRequest(
  records: ReadonlyArray<{ topic: string; partition?: number | undefined }>,
  stored: RecordMetadata[],
): Array<bigint | undefined> {
  const next = new Map<string, bigint>();
  for (const { topicName, partition, baseOffset } of stored)
    if (baseOffset !== undefined) next.set(`${topicName}:${partition}`, BigInt(baseOffset));
  const unplaced = new Set(
    records.filter(({ partition }) => partition === undefined).map(({ topic }) => topic),
  );
  return records.map(({ topic, partition }) => {
    if (partition === undefined || unplaced.has(topic)) return undefined;
    const offset = next.get(`${topic}:${partition}`);
    if (offset !== undefined) next.set(`${topic}:${partition}`, offset + 1n);
    return offset;
  });
}

/**
 * The partition Kafka's default partitioner (the Java client's murmur2 of the key) gives a key in a topic of
 * `partitionCount` partitions: records placed explicitly land where the same key sent without a partition would.
 */
export function partitionOfKey(key: string, partitionCount: number): number {
  return keyPartitioner({
    topic: '',
    partitionMetadata: Array.from({ length: partitionCount }, (_, partitionId) => ({
      partitionId,
      leader: 0,
      partitionErrorCode: 0,
      replicas: [],
      isr: [],
    })),
    message: { key, value: null },
  });
}

const keyPartitioner = Partitioners.DefaultPartitioner();
