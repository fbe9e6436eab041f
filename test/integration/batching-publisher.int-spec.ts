import { Kafka, logLevel } from 'kafkajs';
import { pino } from 'pino';
import { BatchingPublisher, createIdempotentProducer } from '@fleetlog/kafka';
import { AnswerDroppingSockets } from '../support/answer-dropping-sockets';
import { readTopicToEnd } from '../support/kafka-reader';
import { testNamespace } from '../support/test-namespace';

const brokers = () => process.env.KAFKA_BROKERS!.split(',');

/** The gateway's path into Kafka, against a real broker that wrote a batch whose answer never arrived. */
describe('BatchingPublisher', () => {
  const topic = `${testNamespace('it')}-publisher`;

  beforeAll(async () => {
    const admin = new Kafka({ brokers: brokers(), logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 6 }], waitForLeaders: true });
    await admin.disconnect();
  });

  afterAll(async () => {
    const admin = new Kafka({ brokers: brokers(), logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [topic] }).finally(() => admin.disconnect());
  });

  it('writes exactly once a batch Kafka wrote but kafkajs gave up on, and the batch published next', async () => {
    const sockets = new AnswerDroppingSockets();
    const kafka = sockets.kafka(brokers());
    let refused: () => void = () => undefined;
    const firstRefusal = new Promise<void>((resolve) => (refused = resolve));
    const logger = pino(
      { level: 'warn' },
      {
        write: (line: string) => JSON.parse(line).msg === 'Kafka refused a batch; resending it' && refused(),
      },
    );
    const publisher = new BatchingPublisher(
      () => createIdempotentProducer(kafka),
      { lingerMs: 2, maxBatchRecords: 1_000, retry: { initialMs: 200, maxMs: 1_000 } },
      logger,
    );
    // Every tick publishes one reading per vehicle, so consecutive batches carry the same number of records per
    // partition: the shape in which a batch sent under a refused batch's sequence numbers passes for its retry.
    const tick = (n: number) =>
      Array.from({ length: 20 }, (_, vehicle) =>
        publisher.publish({ topic, key: `vehicle-${vehicle}`, value: `${vehicle}:${n}` }),
      );
    await publisher.connect();
    await Promise.all(tick(0));
    sockets.dropNextProduceAnswer();
    const unanswered = tick(1);
    await firstRefusal;
    sockets.acceptConnections();
    const next = tick(2);
    await Promise.all([...unanswered, ...next]);
    await publisher.close();

    const written = (await readTopicToEnd(topic, 60_000)).map(({ value }) => value.toString());
    const published = [0, 1, 2].flatMap((n) => Array.from({ length: 20 }, (_, vehicle) => `${vehicle}:${n}`));
    expect(written.sort()).toEqual(published.sort());
  });
});
