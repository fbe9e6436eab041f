import { TokenBuckets } from './token-buckets';

describe('TokenBuckets', () => {
  it('admits a burst, then refuses with the seconds until the next token', () => {
    const buckets = new TokenBuckets({ ratePerSecond: 0.5, burst: 3 });
    for (let request = 0; request < 3; request++)
      expect(buckets.take('key:a', 0)).toEqual({ admitted: true });
    expect(buckets.take('key:a', 0)).toEqual({ admitted: false, retryAfterSeconds: 2 });
  });

  it('refills at the sustained rate, never beyond the burst', () => {
    const buckets = new TokenBuckets({ ratePerSecond: 2, burst: 2 });
    buckets.take('a', 0);
    buckets.take('a', 0);
    expect(buckets.take('a', 0).admitted).toBe(false);
    expect(buckets.take('a', 500).admitted).toBe(true);
    expect(buckets.take('a', 500).admitted).toBe(false);
    // An hour of quiet still leaves only the burst.
    expect([1, 2, 3].map(() => buckets.take('a', 3_600_000).admitted)).toEqual([true, true, false]);
  });

  it('keeps callers apart', () => {
    const buckets = new TokenBuckets({ ratePerSecond: 1, burst: 1 });
    expect(buckets.take('key:a', 0).admitted).toBe(true);
    expect(buckets.take('key:a', 0).admitted).toBe(false);
    expect(buckets.take('address:127.0.0.1', 0).admitted).toBe(true);
  });

  it('forgets callers whose bucket has refilled', () => {
    const buckets = new TokenBuckets({ ratePerSecond: 1, burst: 2 });
    buckets.take('a', 0);
    buckets.take('b', 1_500);
    buckets.sweep(2_000);
    expect(buckets.size).toBe(1);
    buckets.sweep(2_500);
    expect(buckets.size).toBe(0);
  });
});
