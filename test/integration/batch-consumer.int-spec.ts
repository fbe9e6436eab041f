import { Kafka, logLevel, type Message } from 'kafkajs';
import {
  BatchConsumer,
  createTransactionalProducer,
  partitionOfKey,
  type BatchConsumerOptions,
} from '@fleetlog/kafka';
import { AnswerDroppingSockets } from '../support/answer-dropping-sockets';
import { readTopicToEnd } from '../support/kafka-reader';
import { eventually } from '../support/webhook-receiver';
import { testNamespace } from '../support/test-namespace';

const brokers = () => process.env.KAFKA_BROKERS!.split(',');
const kafka = () => new Kafka({ brokers: brokers(), logLevel: logLevel.NOTHING });
const createdTopics: string[] = [];

async function createTopics(...topics: Array<{ topic: string; numPartitions: number }>): Promise<void> {
  const admin = kafka().admin();
  await admin.connect();
  await admin.createTopics({ topics, waitForLeaders: true }).finally(() => admin.disconnect());
  createdTopics.push(...topics.map(({ topic }) => topic));
}

async function append(topic: string, messages: Message[]): Promise<void> {
  const producer = kafka().producer();
  await producer.connect();
  await producer.send({ topic, messages }).finally(() => producer.disconnect());
}

/** A consumer committing through transactions whose producer talks to the broker through `producerKafka`. */
function transactionalConsumer(
  groupId: string,
  topic: string,
  producerKafka: Kafka,
  options: Partial<BatchConsumerOptions> = {},
): BatchConsumer {
  return new BatchConsumer(kafka(), {
    groupId,
    topics: [topic],
    fromBeginning: true,
    maxWaitTimeInMs: 50,
    transactionalProducer: () => createTransactionalProducer(producerKafka, `${groupId}-0`),
    ...options,
  });
}

/** The group's committed offsets of `topic`, once every partition's has reached `offset`. */
async function committedAt(groupId: string, topic: string, offset: string) {
  const admin = kafka().admin();
  await admin.connect();
  try {
    for (;;) {
      const [{ partitions }] = await admin.fetchOffsets({ groupId, topics: [topic] });
      if (partitions.every((partition) => partition.offset === offset)) return partitions;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    await admin.disconnect();
  }
}

/** cep's and the notifier's way of consuming, against a real broker that wrote a batch whose answer never arrived. */
describe('BatchConsumer', () => {
  const id = testNamespace('it');
  const input = `${id}-consumed`;
  const output = `${id}-produced`;

  beforeAll(async () => {
    await createTopics({ topic: input, numPartitions: 1 }, { topic: output, numPartitions: 1 });
    await append(
      input,
      ['a', 'b', 'c'].map((value) => ({ key: value, value })),
    );
  });

  afterAll(async () => {
    const admin = kafka().admin();
    await admin.connect();
    await admin.deleteTopics({ topics: createdTopics }).finally(() => admin.disconnect());
  });

  it('makes the records of a transaction whose produce answer was lost visible exactly once', async () => {
    const sockets = new AnswerDroppingSockets();
    const faultyKafka = sockets.kafka(brokers());
    const groupId = `${id}-group`;
    const consumer = transactionalConsumer(groupId, input, faultyKafka);
    let attempts = 0;
    let committed: () => void = () => undefined;
    const allCommitted = new Promise<void>((resolve) => (committed = resolve));
    sockets.dropNextProduceAnswer();
    await consumer.start(async (records) => {
      // The broker is back by the time kafkajs fetches the batch again.
      if (++attempts > 1) sockets.acceptConnections();
      if (records.some(({ value }) => value.toString() === 'c')) setImmediate(committed);
      return records.map(({ key, value }) => ({
        topic: output,
        key: key!,
        value: `handled ${value.toString()}`,
      }));
    });
    try {
      await allCommitted;
      await committedAt(groupId, input, '3');
    } finally {
      await consumer.stop();
    }

    const written = (await readTopicToEnd(output, 60_000)).map(({ value }) => value.toString());
    expect(written.sort()).toEqual(['handled a', 'handled b', 'handled c']);
    expect(attempts).toBeGreaterThan(1);
  });

  it('counts a partition being rebuilt as having records to read until the rebuild has read them', async () => {
    const topic = `${id}-rebuilt`;
    await createTopics({ topic, numPartitions: 1 });
    await append(
      topic,
      Array.from({ length: 10 }, (_, n) => ({ value: `reading ${n}` })),
    );
    // A previous owner committed offset 5; state must be rebuilt from offset 0, before that commit.
    const groupId = `${id}-rebuilding`;
    const admin = kafka().admin();
    await admin.connect();
    await admin
      .setOffsets({ groupId, topic, partitions: [{ partition: 0, offset: '5' }] })
      .finally(() => admin.disconnect());

    let firstBatch: (batch: { firstOffset: string; idle: unknown[] }) => void = () => undefined;
    const handled = new Promise<{ firstOffset: string; idle: unknown[] }>(
      (resolve) => (firstBatch = resolve),
    );
    const consumer: BatchConsumer = new BatchConsumer(kafka(), {
      groupId,
      topics: [topic],
      fromBeginning: true,
      maxWaitTimeInMs: 50,
      partitionState: { assigned: () => '0', revoked: () => undefined, checkpoint: () => undefined },
    });
    await consumer.start(async (records) => {
      // What cep's clock would ask between two batches: the rebuild has not been handled yet.
      firstBatch({ firstOffset: records[0]!.offset, idle: await consumer.idlePartitions() });
    });
    try {
      const { firstOffset, idle } = await handled;
      expect(firstOffset).toBe('0');
      expect(idle).toEqual([]);
    } finally {
      await consumer.stop();
    }
  });

  it('hands every partition a fetch brought to the handler in one call and commits their offsets together', async () => {
    const topic = `${id}-gathered`;
    await createTopics({ topic, numPartitions: 3 });
    await append(
      topic,
      [0, 1, 2].flatMap((partition) =>
        ['first', 'second'].map((value) => ({ partition, value: `${value} of ${partition}` })),
      ),
    );
    const groupId = `${id}-gathering`;
    const calls: string[][] = [];
    let handledAll: () => void = () => undefined;
    const allHandled = new Promise<void>((resolve) => (handledAll = resolve));
    const consumer = new BatchConsumer(kafka(), {
      groupId,
      topics: [topic],
      fromBeginning: true,
      maxWaitTimeInMs: 50,
      partitionState: { assigned: () => undefined, revoked: () => undefined, checkpoint: () => 'checkpoint' },
    });
    await consumer.start(async (records) => {
      calls.push(records.map(({ value }) => value.toString()));
      if (calls.flat().length === 6) setImmediate(handledAll);
    });
    try {
      await allHandled;
      const offsets = await committedAt(groupId, topic, '2');
      expect(calls).toEqual([
        expect.arrayContaining(
          [0, 1, 2].flatMap((partition) => [`first of ${partition}`, `second of ${partition}`]),
        ),
      ]);
      for (const partition of [0, 1, 2]) {
        expect(calls[0]!.indexOf(`first of ${partition}`)).toBeLessThan(
          calls[0]!.indexOf(`second of ${partition}`),
        );
      }
      expect(offsets.map(({ metadata }) => metadata)).toEqual(['checkpoint', 'checkpoint', 'checkpoint']);
    } finally {
      await consumer.stop();
    }
  });

  it('takes a partition over again when its take-over failed, then handles every record of it', async () => {
    const topic = `${id}-taken-over-again`;
    await createTopics({ topic, numPartitions: 1 });
    await append(
      topic,
      ['a', 'b', 'c'].map((value) => ({ value })),
    );
    const events: string[] = [];
    const handled: string[] = [];
    const consumer = new BatchConsumer(kafka(), {
      groupId: `${id}-taking-over-again`,
      topics: [topic],
      fromBeginning: true,
      maxWaitTimeInMs: 50,
      partitionState: {
        assigned: () => {
          events.push('assigned');
          // As when the committed offsets cannot be read while the group coordinator moves to another broker.
          if (events.length === 1) throw new Error('injected: the take-over failed');
          return undefined;
        },
        revoked: () => void events.push('revoked'),
        checkpoint: () => undefined,
      },
    });
    await consumer.start(async (records) => {
      handled.push(...records.map(({ value }) => value.toString()));
    });
    try {
      await eventually(
        () => (handled.length === 3 ? true : undefined),
        60_000,
        'every record handled after the failed take-over',
      );
    } finally {
      await consumer.stop();
    }
    expect(handled).toEqual(['a', 'b', 'c']);
    expect(events).toEqual(['assigned', 'revoked', 'assigned']);
  });

  it('commits a fetch whose outputs exceed what the broker takes in one request, each output exactly once', async () => {
    const source = `${id}-fanned-in`;
    const fannedOut = `${id}-fanned-out`;
    await createTopics({ topic: source, numPartitions: 1 }, { topic: fannedOut, numPartitions: 1 });
    await append(source, [{ key: 'alert', value: 'one alert, many targets' }]);
    const groupId = `${id}-fanning`;
    const consumer = transactionalConsumer(groupId, source, kafka());
    // 3,000 outputs of 1 KB: three times the broker's default limit for one partition's batch in one request.
    await consumer.start(async () =>
      Array.from({ length: 3_000 }, (_, n) => ({
        topic: fannedOut,
        key: `target-${n}`,
        value: 'x'.repeat(1_000),
      })),
    );
    try {
      await committedAt(groupId, source, '1');
    } finally {
      await consumer.stop();
    }
    const written = await readTopicToEnd(fannedOut, 60_000);
    expect(new Set(written.map(({ key }) => key?.toString())).size).toBe(3_000);
    expect(written).toHaveLength(3_000);
  });

  it('tells where each output it placed by key was stored: the partition kafkajs gives the key, and the offset', async () => {
    const source = `${id}-placing`;
    const placed = `${id}-placed`;
    const byKafkajs = `${id}-partitioned-by-kafkajs`;
    await createTopics(
      { topic: source, numPartitions: 1 },
      { topic: placed, numPartitions: 6 },
      { topic: byKafkajs, numPartitions: 6 },
    );
    const keys = Array.from({ length: 40 }, (_, n) => `target-${n}/alert-${n}.active`);
    await append(
      byKafkajs,
      keys.map((key) => ({ key, value: key })),
    );
    await append(source, [{ key: 'alert', value: 'one alert, many targets' }]);
    const groupId = `${id}-placing`;
    const reported: Array<{ key: string; partition: number; offset: string }> = [];
    const consumer = transactionalConsumer(groupId, source, kafka(), {
      onCommitted: (records) =>
        reported.push(
          ...records.map(({ key, partition, offset }) => ({ key, partition, offset: String(offset) })),
        ),
    });
    await consumer.start(async () =>
      keys.map((key) => ({ topic: placed, key, value: key, partition: partitionOfKey(key, 6) })),
    );
    try {
      await committedAt(groupId, source, '1');
    } finally {
      await consumer.stop();
    }
    const positions = (records: Awaited<ReturnType<typeof readTopicToEnd>>) =>
      records.map(({ key, partition, offset }) => ({ key: key!, partition, offset })).sort(byKey);
    const written = positions(await readTopicToEnd(placed, 60_000));
    expect(reported.sort(byKey)).toEqual(written);
    expect(written.map(({ partition }) => partition)).toEqual(
      positions(await readTopicToEnd(byKafkajs, 60_000)).map(({ partition }) => partition),
    );
    expect(new Set(written.map(({ partition }) => partition)).size).toBeGreaterThan(1);
  });
});

const byKey = (a: { key: string }, b: { key: string }) => a.key.localeCompare(b.key);
