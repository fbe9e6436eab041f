import { EventEmitter } from 'node:events';
import type { Producer, ProducerRecord } from 'kafkajs';
import { RenewableProducer } from './renewable-producer';

/** Producers that fail the sends the test asks them to, each remembering which producer it was. */
function producers(failures: Set<number>) {
  const made: Array<{ sent: number; disconnected: boolean }> = [];
  let sends = 0;
  const create = (): Producer => {
    const events = new EventEmitter();
    const state = { sent: 0, disconnected: false };
    made.push(state);
    const send = async () => {
      if (failures.has(++sends)) throw new Error('Connection error: read ECONNRESET');
      state.sent++;
      return [];
    };
    return {
      events: { CONNECT: 'connect', DISCONNECT: 'disconnect' },
      on: (event: string, listener: () => void) => events.on(event, listener),
      connect: async () => void events.emit('connect'),
      disconnect: async () => {
        state.disconnected = true;
        events.emit('disconnect');
      },
      send,
      sendBatch: send,
    } as unknown as Producer;
  };
  return { made, create };
}

const record: ProducerRecord = { topic: 'fleet.rules', messages: [{ key: 'overspeed', value: '{}' }] };

describe('RenewableProducer', () => {
  it('sends the record after a failed send through a new producer, so the failed sequence numbers are not reused', async () => {
    const { made, create } = producers(new Set([1]));
    const producer = new RenewableProducer(create);
    await expect(producer.send(record)).rejects.toThrow('ECONNRESET');
    await producer.send(record);
    expect(made).toEqual([
      { sent: 0, disconnected: true },
      { sent: 1, disconnected: false },
    ]);
    expect(producer.connected).toBe(true);
  });

  it('keeps its producer after a failed batch, for the caller to resend that batch unchanged', async () => {
    const { made, create } = producers(new Set([1]));
    const producer = new RenewableProducer(create);
    await expect(producer.sendBatch({ topicMessages: [record] })).rejects.toThrow('ECONNRESET');
    await producer.sendBatch({ topicMessages: [record] });
    expect(made).toEqual([{ sent: 1, disconnected: false }]);
  });
});
