import type { Producer, ProducerBatch } from 'kafkajs';
import { BatchingPublisher } from './batching-publisher';

/** Stands in for the broker round trip: records each batch, and acknowledges it when the test says so. */
class ControlledProducer {
  readonly batches: ProducerBatch[] = [];
  private pending: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];

  sendBatch(batch: ProducerBatch): Promise<unknown[]> {
    this.batches.push(batch);
    return new Promise((resolve, reject) => this.pending.push({ resolve: () => resolve([]), reject }));
  }

  acknowledgeNext(): void {
    this.pending.shift()!.resolve();
  }

  failNext(error: Error): void {
    this.pending.shift()!.reject(error);
  }
}

const record = (key: string, topic = 'fleet.telemetry') => ({ topic, key, value: `{"vehicleId":"${key}"}` });
const afterLinger = () => new Promise((resolve) => setTimeout(resolve, 10));

describe('BatchingPublisher', () => {
  let producer: ControlledProducer;
  let publisher: BatchingPublisher;

  beforeEach(() => {
    producer = new ControlledProducer();
    publisher = new BatchingPublisher(producer as unknown as Producer, { lingerMs: 5, maxBatchRecords: 3 });
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

  it('rejects every record of a batch Kafka refused, so none is acknowledged to a device', async () => {
    const publishes = ['a', 'b'].map((key) => publisher.publish(record(key)));
    await afterLinger();
    producer.failNext(new Error('broker unavailable'));
    await expect(Promise.allSettled(publishes)).resolves.toEqual([
      { status: 'rejected', reason: new Error('broker unavailable') },
      { status: 'rejected', reason: new Error('broker unavailable') },
    ]);
  });
});
