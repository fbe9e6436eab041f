import { hoppingWindowsOf } from './hopping';

describe('hoppingWindowsOf', () => {
  const minute = 60_000;
  const t0 = Date.parse('2026-11-23T12:00:00Z');

  it('returns every window holding the time, oldest first', () => {
    expect(hoppingWindowsOf(t0 + 90_000, 3 * minute, minute)).toEqual([
      { start: t0 - minute, end: t0 + 2 * minute },
      { start: t0, end: t0 + 3 * minute },
      { start: t0 + minute, end: t0 + 4 * minute },
    ]);
  });

  it('puts a time on a hop boundary in the window starting there and not in the one ending there', () => {
    expect(hoppingWindowsOf(t0, 2 * minute, minute)).toEqual([
      { start: t0 - minute, end: t0 + minute },
      { start: t0, end: t0 + 2 * minute },
    ]);
    expect(hoppingWindowsOf(t0 - 1, 2 * minute, minute)).toEqual([
      { start: t0 - 2 * minute, end: t0 },
      { start: t0 - minute, end: t0 + minute },
    ]);
  });

  it('is the tumbling window when the hop is the size', () => {
    expect(hoppingWindowsOf(t0 + 1, minute, minute)).toEqual([{ start: t0, end: t0 + minute }]);
  });

  it('refuses a size that is not a multiple of the hop', () => {
    expect(() => hoppingWindowsOf(t0, 5 * minute, 2 * minute)).toThrow(
      new RangeError('window size must be a multiple of the hop: 300000 ms is not a multiple of 120000 ms'),
    );
  });

  it('refuses a hop that is not a positive whole number of milliseconds', () => {
    expect(() => hoppingWindowsOf(t0, minute, 0)).toThrow(RangeError);
  });
});
