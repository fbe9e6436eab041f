import { EventEmitter } from 'node:events';
import { pino } from 'pino';
import { KafkaJSProtocolError, type Producer, type ProducerBatch, type RecordMetadata } from 'kafkajs';
import { BatchingPublisher } from './batching-publisher';

/**
 * Stands in for the broker round trip: records each batch, and acknowledges or refuses it when the test says so.
 * Batches from every producer the publisher creates land in one list, each tagged with its producer's generation.
 */
class ControlledProducer {
  readonly batches: Array<ProducerBatch & { generation: number }> = [];
  generations = 0;
  private pending: Array<{ resolve: (stored: RecordMetadata[]) => void; reject: (error: Error) => void }> =
    [];

  create = (): Producer => {
    const generation = ++this.generations;
    const events = new EventEmitter();
    const producer = {
      events: { CONNECT: 'connect', DISCONNECT: 'disconnect' },
      on: (event: string, listener: () => void) => events.on(event, listener),
      connect: async () => void events.emit('connect'),
      disconnect: async () => void events.emit('disconnect'),
      sendBatch: (batch: ProducerBatch) => {
        this.batches.push({ ...batch, generation });
        return new Promise((resolve, reject) => this.pending.push({ resolve, reject }));
      },
    };
    return producer as unknown as Producer;
  };

  /** `stored`: the broker's answer, each partition's base offset. */
  acknowledgeNext(stored: Array<Pick<RecordMetadata, 'topicName' | 'partition' | 'baseOffset'>> = []): void {
    this.pending.shift()!.resolve(stored.map((answer) => ({ errorCode: 0, ...answer })));
  }

  failNext(error: Error): void {
    this.pending.shift()!.reject(error);
  }
}

const record = (key: string, topic = 'fleet.telemetry') => ({ topic, key, value: `{"vehicleId":"${key}"}` });
const afterLinger = () => new Promise((resolve) => setTimeout(resolve, 10));
const silent = pino({ level: 'silent' });
const keysOf = (batch: ProducerBatch) =>
  batch.topicMessages!.flatMap(({ messages }) => messages.map((m) => m.key));
/** What kafkajs rejects a send with once the broker has said it does not know the producer's sequence numbers. */
const outOfOrderSequence = () =>
  // kafkajs builds it from its table of broker errors, which its types describe as a plain Error.
  new KafkaJSProtocolError(
    Object.assign(new Error('The broker received an out of order sequence number'), {
      type: 'OUT_OF_ORDER_SEQUENCE_NUMBER',
      code: 45,
      retriable: false,
    }),
  );

describe('BatchingPublisher', () => {
  let producer: ControlledProducer;
  let publisher: BatchingPublisher;

  beforeEach(() => {
    producer = new ControlledProducer();
    publisher = new BatchingPublisher(
      producer.create,
      { lingerMs: 5, maxBatchRecords: 3, retry: { initialMs: 1, maxMs: 1 } },
      silent,
    );
  });

  it('sends records published together as one acks=all request, grouped by topic', async () => {
    void publisher.publish(record('a'));
    void publisher.publish(record('b', 'fleet.telemetry.dlq'));
    await afterLinger();
    expect(producer.batches).toHaveLength(1);
    expect(producer.batches[0]).toMatchObject({
      acks: -1,
      topicMessages: [
        { topic: 'fleet.telemetry', messages: [{ key: 'a' }] },
        { topic: 'fleet.telemetry.dlq', messages: [{ key: 'b' }] },
      ],
    });
  });

  it('resolves a publish only once Kafka has acknowledged its batch', async () => {
    let acknowledged = false;
    const publishing = publisher.publish(record('a')).then(() => (acknowledged = true));
    await afterLinger();
    expect(producer.batches).toHaveLength(1);
    expect(acknowledged).toBe(false);
    producer.acknowledgeNext();
    await publishing;
    expect(acknowledged).toBe(true);
  });

  it('sends a full batch without waiting for the linger time, and keeps one request in flight', async () => {
    const publishes = ['a', 'b', 'c', 'd'].map((key) => publisher.publish(record(key)));
    await new Promise((resolve) => setImmediate(resolve));
    expect(producer.batches).toHaveLength(1);
    await afterLinger();
    expect(producer.batches).toHaveLength(1);
    producer.acknowledgeNext();
    await afterLinger();
    expect(producer.batches).toHaveLength(2);
    producer.acknowledgeNext();
    await Promise.all(publishes);
  });

  it('sends what was published during a request as one batch as soon as that request is acknowledged', async () => {
    const first = publisher.publish(record('a'));
    await afterLinger();
    // Each longer than the linger time apart: lingering would cut them into two batches.
    const meanwhile: Array<Promise<void>> = [];
    for (const key of ['b', 'c']) {
      meanwhile.push(publisher.publish(record(key)));
      await afterLinger();
    }
    expect(producer.batches.map(keysOf)).toEqual([['a']]);
    producer.acknowledgeNext();
    await first;
    await new Promise((resolve) => setImmediate(resolve));
    expect(producer.batches.map(keysOf)).toEqual([['a'], ['b', 'c']]);
    producer.acknowledgeNext();
    await Promise.all(meanwhile);
  });

  it('resolves publishAt with the offset of each record, counted per partition from the base offset Kafka answered', async () => {
    const topic = 'fleet.webhooks.retry';
    const offsets = [
      { key: 'a', partition: 0 },
      { key: 'b', partition: 1 },
      { key: 'c', partition: 0 },
    ].map(({ key, partition }) => publisher.publishAt({ ...record(key, topic), partition }));
    await afterLinger();
    expect(producer.batches[0]!.topicMessages).toEqual([
      {
        topic,
        messages: [
          expect.objectContaining({ key: 'a', partition: 0 }),
          expect.objectContaining({ key: 'b', partition: 1 }),
          expect.objectContaining({ key: 'c', partition: 0 }),
        ],
      },
    ]);
    producer.acknowledgeNext([
      { topicName: topic, partition: 0, baseOffset: '40' },
      { topicName: topic, partition: 1, baseOffset: '7' },
    ]);
    await expect(Promise.all(offsets)).resolves.toEqual([40n, 7n, 41n]);
  });

  it('rejects publishAt when a record of the same topic in its batch left the partition to Kafka', async () => {
    const topic = 'fleet.webhooks.retry';
    const located = publisher.publishAt({ ...record('a', topic), partition: 0 });
    const unlocated = publisher.publish(record('b', topic));
    await afterLinger();
    producer.acknowledgeNext([{ topicName: topic, partition: 0, baseOffset: '40' }]);
    await expect(located).rejects.toThrow('published without a partition');
    await expect(unlocated).resolves.toBeUndefined();
  });

  it('sends a batch once its records reach the size the broker takes, before the linger time or the record limit', async () => {
    const large = (key: string) => ({ topic: 'fleet.telemetry', key, value: 'x'.repeat(300 * 1024) });
    const publishes = ['a', 'b', 'c'].map((key) => publisher.publish(large(key)));
    await new Promise((resolve) => setImmediate(resolve));
    expect(producer.batches.map(keysOf)).toEqual([['a', 'b']]);
    producer.acknowledgeNext();
    await afterLinger();
    expect(producer.batches.map(keysOf)).toEqual([['a', 'b'], ['c']]);
    producer.acknowledgeNext();
    await Promise.all(publishes);
  });

  it('resends a refused batch unchanged before anything published after it, keeping its sequence numbers valid', async () => {
    let acknowledged = 0;
    const first = ['a', 'b'].map((key) => publisher.publish(record(key)).then(() => acknowledged++));
    await afterLinger();
    const later = publisher.publish(record('c')).then(() => acknowledged++);
    producer.failNext(new Error('Connection error: read ECONNRESET'));
    await afterLinger();
    expect(producer.batches.map(keysOf)).toEqual([
      ['a', 'b'],
      ['a', 'b'],
    ]);
    expect(acknowledged).toBe(0);
    producer.acknowledgeNext();
    await Promise.all(first);
    await afterLinger();
    expect(producer.batches.map(keysOf)).toEqual([['a', 'b'], ['a', 'b'], ['c']]);
    producer.acknowledgeNext();
    await later;
    expect(acknowledged).toBe(3);
  });

  it('resends under a new producer once the broker no longer knows its sequence numbers', async () => {
    const publishing = publisher.publish(record('a'));
    await afterLinger();
    producer.failNext(outOfOrderSequence());
    await afterLinger();
    expect(producer.batches.map(({ generation }) => generation)).toEqual([1, 2]);
    expect(producer.batches.map(keysOf)).toEqual([['a'], ['a']]);
    producer.acknowledgeNext();
    await publishing;
    expect(publisher.connected).toBe(true);
  });

  it('keeps the producer through refusals that leave its sequence numbers valid', async () => {
    const publishing = publisher.publish(record('a'));
    await afterLinger();
    producer.failNext(new Error('Connection error: connect ECONNREFUSED'));
    await afterLinger();
    producer.acknowledgeNext();
    await publishing;
    expect(producer.generations).toBe(1);
  });

  it('rejects every record of a refused batch once closing, so none is acknowledged to a device', async () => {
    const publishes = ['a', 'b'].map((key) => publisher.publish(record(key)));
    await afterLinger();
    const closed = publisher.close();
    producer.failNext(new Error('broker unavailable'));
    await expect(Promise.allSettled(publishes)).resolves.toEqual([
      { status: 'rejected', reason: new Error('broker unavailable') },
      { status: 'rejected', reason: new Error('broker unavailable') },
    ]);
    await closed;
    expect(producer.batches).toHaveLength(1);
    expect(publisher.connected).toBe(false);
  });
});
