import { offsetsInRequest, partitionOfKey } from './record-positions';

const answer = (topicName: string, partition: number, baseOffset: string) => ({
  topicName,
  partition,
  errorCode: 0,
  baseOffset,
});

describe('offsetsInRequest', () => {
  it('counts each placed record on from its partition’s base offset, in the order sent', () => {
    const records = [
      { topic: 'retry', partition: 2 },
      { topic: 'retry', partition: 0 },
      { topic: 'retry', partition: 2 },
      { topic: 'dlq', partition: 1 },
    ];
    expect(
      offsetsInRequest(records, [answer('retry', 0, '9'), answer('retry', 2, '100'), answer('dlq', 1, '0')]),
    ).toEqual([100n, 9n, 101n, 0n]);
  });

  it('gives no offsets for a topic where a record was left to the partitioner, and keeps other topics’', () => {
    const records = [{ topic: 'retry', partition: 0 }, { topic: 'retry' }, { topic: 'dlq', partition: 0 }];
    expect(offsetsInRequest(records, [answer('retry', 0, '5'), answer('dlq', 0, '7')])).toEqual([
      undefined,
      undefined,
      7n,
    ]);
  });
});

describe('partitionOfKey', () => {
  it('spreads keys over every partition and always gives a key the same one', () => {
    const keys = Array.from({ length: 200 }, (_, n) => `target-${n}/alert-${n}.active`);
    const partitions = keys.map((key) => partitionOfKey(key, 6));
    expect(new Set(partitions)).toEqual(new Set([0, 1, 2, 3, 4, 5]));
    expect(keys.map((key) => partitionOfKey(key, 6))).toEqual(partitions);
  });
});
