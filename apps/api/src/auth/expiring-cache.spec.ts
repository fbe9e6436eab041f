import { ExpiringCache } from './expiring-cache';

describe('ExpiringCache', () => {
  let now = 0;
  const clock = () => now;
  beforeEach(() => (now = 1_000));

  it('answers from the cache until the entry expires', () => {
    const cache = new ExpiringCache<string, number>(5_000, 10, clock);
    cache.set('a', 1);
    now += 4_999;
    expect(cache.get('a')).toEqual({ value: 1 });
    now += 1;
    expect(cache.get('a')).toBeUndefined();
  });

  it('remembers a miss as a cached undefined, distinct from no entry', () => {
    const cache = new ExpiringCache<string, number | undefined>(5_000, 10, clock);
    cache.set('unknown', undefined);
    expect(cache.get('unknown')).toEqual({ value: undefined });
    expect(cache.get('never-asked')).toBeUndefined();
  });

  it('evicts the oldest entry when full, so distinct keys cannot grow it without bound', () => {
    const cache = new ExpiringCache<string, number>(5_000, 2, clock);
    cache.set('a', 1);
    cache.set('b', 2);
    cache.set('c', 3);
    expect(cache.get('a')).toBeUndefined();
    expect(cache.get('b')).toEqual({ value: 2 });
    expect(cache.get('c')).toEqual({ value: 3 });
  });

  it('forgets a deleted entry at once', () => {
    const cache = new ExpiringCache<string, number>(5_000, 10, clock);
    cache.set('a', 1);
    cache.delete('a');
    expect(cache.get('a')).toBeUndefined();
  });
});
