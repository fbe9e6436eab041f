import type { Kafka } from 'kafkajs';
import { topicSpecs, type TopicNames } from '@fleetlog/contracts';

/** Creates the pipeline's topics with their retention settings when missing; safe to run from every process. */
export async function ensureTopics(kafka: Kafka, names: TopicNames): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = (Object.keys(names) as Array<keyof TopicNames>).filter(
      (key) => !existing.has(names[key]),
    );
    if (missing.length === 0) return;
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((key) => ({
        topic: names[key],
        numPartitions: topicSpecs[key].numPartitions,
        replicationFactor: -1,
        configEntries: topicSpecs[key].configEntries,
      })),
    });
  } finally {
    await admin.disconnect();
  }
}

/** How many partitions `topic` has now (a topic's partitions can be added to, so not read from its spec). */
export async function partitionCount(kafka: Kafka, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    return topics[0]!.partitions.length;
  } finally {
    await admin.disconnect();
  }
}
