import { tumblingWindowOf } from './tumbling';

describe('tumblingWindowOf', () => {
  const minute = 60_000;
  const t0 = Date.parse('2026-11-23T12:00:00Z');

  it('aligns windows to the epoch', () => {
    expect(tumblingWindowOf(t0 + 25_000, minute)).toEqual({ start: t0, end: t0 + minute });
    expect(tumblingWindowOf(t0 + 59_999, minute)).toEqual({ start: t0, end: t0 + minute });
  });

  it('puts a time on a boundary in the window it starts', () => {
    expect(tumblingWindowOf(t0, minute)).toEqual({ start: t0, end: t0 + minute });
    expect(tumblingWindowOf(t0 + minute, minute)).toEqual({ start: t0 + minute, end: t0 + 2 * minute });
  });

  it('refuses a size that is not a positive whole number of milliseconds', () => {
    for (const size of [0, -1, 1.5, NaN]) {
      expect(() => tumblingWindowOf(t0, size)).toThrow(RangeError);
    }
  });
});
