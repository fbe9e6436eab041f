import fc from 'fast-check';
import { doubleArray, SlidingWindow } from './sliding';
import { windowFunctions, type WindowFunction } from './window-function';

const t0 = Date.parse('2026-11-23T12:00:00Z');
const second = 1_000;
const fiveMinutes = 300_000;

function windowOf(functions: readonly WindowFunction[], events: Array<[time: number, value: number]>) {
  const window = new SlidingWindow(fiveMinutes, functions);
  for (const [time, value] of events) window.add(time, value);
  return window;
}

const valuesAt = (window: SlidingWindow, now: number) =>
  Object.fromEntries(windowFunctions.map((fn) => [fn, window.value(fn, now)]));

describe('SlidingWindow', () => {
  // Five minutes in ten panes of 30 s; t0 starts a pane.
  it('computes every function over the last five minutes to one pane', () => {
    const window = windowOf(windowFunctions, [
      [t0 - 300 * second, 100], // in the pane just out of range at t0 + 10 s
      [t0 - 270 * second, 4],
      [t0 - 100 * second, 8],
      [t0 + 5 * second, 2],
      [t0 - 10 * second, 6], // out of order
    ]);
    expect(valuesAt(window, t0 + 10 * second)).toEqual({
      avg: 5,
      min: 2,
      max: 8,
      sum: 20,
      count: 4,
      first: 4,
      last: 2,
      stddev: Math.sqrt(5),
      delta: -2,
    });
  });

  it('takes in events later than now within now’s pane', () => {
    const window = windowOf(['count'], [[t0 + 20 * second, 1]]);
    expect(window.value('count', t0 + 10 * second)).toBe(1);
  });

  it('has a count and sum of 0 and no other value when empty', () => {
    expect(valuesAt(new SlidingWindow(fiveMinutes, windowFunctions), t0)).toEqual({
      avg: undefined,
      min: undefined,
      max: undefined,
      sum: 0,
      count: 0,
      first: undefined,
      last: undefined,
      stddev: undefined,
      delta: undefined,
    });
  });

  it('is empty once now has moved a whole window past the newest event', () => {
    const window = windowOf(['count', 'avg'], [[t0, 1]]);
    expect([window.value('count', t0 + 299 * second), window.value('avg', t0 + 299 * second)]).toEqual([
      1, 1,
    ]);
    expect([window.value('count', t0 + 300 * second), window.value('avg', t0 + 300 * second)]).toEqual([
      0,
      undefined,
    ]);
  });

  it('answers for an earlier now without the newer panes', () => {
    const window = windowOf(
      ['sum'],
      [
        [t0, 1],
        [t0 + 60 * second, 10],
      ],
    );
    expect(window.value('sum', t0 + 30 * second)).toBe(1);
    expect(window.value('sum', t0 + 60 * second)).toBe(11);
  });

  it('has no last or delta for a now before the newest pane, which it keeps only the newest event for', () => {
    const window = windowOf(windowFunctions, [
      [t0, 1],
      [t0 + 60 * second, 10],
    ]);
    expect(valuesAt(window, t0 + 30 * second)).toMatchObject({
      first: 1,
      last: undefined,
      delta: undefined,
      sum: 1,
    });
    expect(valuesAt(window, t0 + 60 * second)).toMatchObject({ first: 1, last: 10, delta: 9 });
  });

  it('refuses a too-late event and changes nothing', () => {
    const events: Array<[number, number]> = [
      [t0, 3],
      [t0 + 200 * second, 5],
      [t0 + 270 * second, 7],
    ];
    const window = windowOf(windowFunctions, events);
    const before = [t0, t0 + 100 * second, t0 + 270 * second].map((now) => valuesAt(window, now));
    // The newest pane starts at t0 + 270 s; ten panes back, t0 − 30 s to t0 is the first the ring cannot hold.
    expect(window.add(t0 - 1, 100)).toBe(false);
    expect([t0, t0 + 100 * second, t0 + 270 * second].map((now) => valuesAt(window, now))).toEqual(before);
    expect(window.add(t0, 100)).toBe(true);
  });

  it('ignores times and values that are not finite numbers', () => {
    const window = windowOf(['count', 'max'], [[t0, 1]]);
    expect([
      window.add(t0, NaN),
      window.add(t0, Infinity),
      window.add(NaN, 2),
      window.add(Infinity, 2),
    ]).toEqual([false, false, false, false]);
    expect([window.value('count', t0), window.value('max', t0)]).toEqual([1, 1]);
  });

  it('throws when asked for a function it was not built with', () => {
    expect(() => new SlidingWindow(fiveMinutes, ['avg', 'max']).value('stddev', t0)).toThrow(
      'this window was built for avg, max, not stddev',
    );
  });

  it('refuses a size that does not divide into panes of whole milliseconds, and no functions at all', () => {
    expect(() => new SlidingWindow(1_000, ['avg'], 3)).toThrow(RangeError);
    expect(() => new SlidingWindow(1_000, ['avg'], 0)).toThrow(RangeError);
    expect(() => new SlidingWindow(0, ['avg'])).toThrow(RangeError);
    expect(() => new SlidingWindow(1_000, [])).toThrow(RangeError);
  });

  it('keeps only the columns its functions need', () => {
    const maxOnly = new SlidingWindow(fiveMinutes, ['max']).stateBytes();
    expect(maxOnly).toBeLessThan(new SlidingWindow(fiveMinutes, windowFunctions).stateBytes());
    expect(new SlidingWindow(fiveMinutes, ['avg', 'max']).stateBytes()).toBeLessThan(300);
  });

  it('keeps no count for min, max, first and delta (their own columns tell an empty pane), no panes for last', () => {
    expect(SlidingWindow.lengthFor(fiveMinutes, ['max'])).toBe(1 + 10);
    expect(SlidingWindow.lengthFor(fiveMinutes, ['delta'])).toBe(3 + 10 * 2);
    expect(SlidingWindow.lengthFor(fiveMinutes, ['last'])).toBe(3);
    expect(SlidingWindow.lengthFor(fiveMinutes, ['count', 'max'])).toBe(1 + 10 * 2);
    // A pane whose extreme is 0 is not empty: the later, lesser (greater) value does not restart it.
    expect(
      windowOf(
        ['max'],
        [
          [t0, 0],
          [t0 + second, -5],
        ],
      ).value('max', t0 + second),
    ).toBe(0);
    expect(
      windowOf(
        ['min'],
        [
          [t0, 0],
          [t0 + second, 5],
        ],
      ).value('min', t0 + second),
    ).toBe(0);
    expect(
      windowOf(
        ['delta'],
        [
          [t0 + second, 0],
          [t0, 3],
        ],
      ).value('delta', t0 + second),
    ).toBe(-3);
  });

  it('matches a brute-force computation over the same panes', () => {
    const scenario = fc
      .record({
        paneMs: fc.integer({ min: 1, max: 40 }),
        panes: fc.integer({ min: 1, max: 8 }),
        functions: fc.subarray([...windowFunctions], { minLength: 1 }),
      })
      .chain((config) => {
        const span = config.paneMs * config.panes * 5;
        const value = fc.oneof(
          { weight: 4, arbitrary: fc.integer({ min: -1_000, max: 1_000 }) },
          { weight: 4, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }) },
          { weight: 2, arbitrary: fc.double({ noNaN: true, min: 123_456, max: 123_457 }) },
          { weight: 1, arbitrary: fc.constantFrom(NaN, Infinity, -Infinity) },
          // 0 is what a cleared count holds: a window that told empty panes by a zero max or min would slip here.
          { weight: 1, arbitrary: fc.constant(0) },
        );
        const operation = fc.oneof(
          fc.record({ kind: fc.constant('add' as const), time: fc.integer({ min: 0, max: span }), value }),
          fc.record({
            kind: fc.constant('read' as const),
            now: fc.integer({ min: -span / 5, max: span * 1.2 }),
          }),
        );
        return fc.record({ config: fc.constant(config), operations: fc.array(operation, { maxLength: 60 }) });
      });

    fc.assert(
      fc.property(scenario, ({ config: { paneMs, panes, functions }, operations }) => {
        const window = new SlidingWindow(paneMs * panes, functions, panes);
        const model = new BruteForceWindow(paneMs, panes);
        for (const operation of operations) {
          if (operation.kind === 'add') {
            expect(window.add(t0 + operation.time, operation.value)).toBe(
              model.add(t0 + operation.time, operation.value),
            );
            continue;
          }
          for (const fn of functions) {
            expectSame(fn, window.value(fn, t0 + operation.now), model.value(fn, t0 + operation.now));
          }
        }
      }),
      { numRuns: 3000 },
    );
  });
});

/** Sum, avg and stddev depend on the order of additions: equal to within a few ulps of the sum of magnitudes. */
function expectSame(fn: WindowFunction, actual: number | undefined, expected: Answer): void {
  if (fn === 'sum' || fn === 'avg' || fn === 'stddev') {
    expect(actual === undefined).toBe(expected.value === undefined);
    expect(Math.abs((actual ?? 0) - (expected.value ?? 0))).toBeLessThanOrEqual(1e-12 * expected.magnitude);
  } else {
    expect(actual).toBe(expected.value);
  }
}

interface Answer {
  value: number | undefined;
  magnitude: number;
}

/** Keeps every accepted event and recomputes from scratch, from the window's definition in the class comment. */
class BruteForceWindow {
  private readonly events: Array<{ time: number; value: number; pane: number }> = [];
  private newestPane = -Infinity;

  constructor(
    private readonly paneMs: number,
    private readonly panes: number,
  ) {}

  add(time: number, value: number): boolean {
    const pane = Math.floor(time / this.paneMs);
    if (!Number.isFinite(value) || pane <= this.newestPane - this.panes) return false;
    this.events.push({ time, value, pane });
    this.newestPane = Math.max(this.newestPane, pane);
    return true;
  }

  value(fn: WindowFunction, now: number): Answer {
    const nowPane = Math.floor(now / this.paneMs);
    const inWindow = this.events.filter(
      ({ pane }) => pane > nowPane - this.panes && pane <= nowPane && pane > this.newestPane - this.panes,
    );
    const values = inWindow.map(({ value }) => value);
    const magnitude = values.reduce((total, value) => total + Math.abs(value), 1);
    const sum = values.reduce((total, value) => total + value, 0);
    if (fn === 'count') return { value: values.length, magnitude };
    if (fn === 'sum') return { value: sum, magnitude };
    const beforeNewest = nowPane < this.newestPane && (fn === 'last' || fn === 'delta');
    if (values.length === 0 || beforeNewest) return { value: undefined, magnitude };
    // An equal time goes to the earlier add for first and to the later add for last.
    let [first, last] = [inWindow[0], inWindow[0]];
    for (const event of inWindow) {
      if (event.time < first.time) first = event;
      if (event.time >= last.time) last = event;
    }
    const mean = sum / values.length;
    const answers: Record<Exclude<WindowFunction, 'count' | 'sum'>, number> = {
      avg: mean,
      min: Math.min(...values),
      max: Math.max(...values),
      first: first.value,
      last: last.value,
      delta: last.value - first.value,
      stddev: Math.sqrt(values.reduce((total, value) => total + (value - mean) ** 2, 0) / values.length),
    };
    return { value: answers[fn], magnitude };
  }
}

describe('SlidingWindow in shared storage', () => {
  it('answers exactly as a window with its own array, its neighbours in the buffer untouched', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 5_000 }), fc.integer({ min: -100, max: 100 })), {
          maxLength: 60,
        }),
        (events) => {
          const functions = [...windowFunctions];
          const length = SlidingWindow.lengthFor(1_000, functions, 5);
          const buffer = doubleArray(3 * length, 7);
          const shared = new SlidingWindow(1_000, functions, 5, { buffer, offset: length });
          const neighbour = new SlidingWindow(1_000, ['max'], 5, { buffer, offset: 0 });
          const own = new SlidingWindow(1_000, functions, 5);
          for (const [time, value] of events) {
            expect(shared.add(time, value)).toBe(own.add(time, value));
            neighbour.add(time, -value);
          }
          for (const fn of functions) expect(shared.value(fn, 5_000)).toEqual(own.value(fn, 5_000));
          expect(buffer.slice(2 * length).every((number) => number === 7)).toBe(true);
        },
      ),
    );
  });

  it('refuses storage without room for it', () => {
    const length = SlidingWindow.lengthFor(60_000, ['avg']);
    expect(
      () => new SlidingWindow(60_000, ['avg'], 10, { buffer: doubleArray(length, 0), offset: 1 }),
    ).toThrow(RangeError);
    const window = new SlidingWindow(60_000, ['avg'], 10, { buffer: doubleArray(length + 1, 0), offset: 1 });
    expect(() => window.over(doubleArray(length, 0))).toThrow(RangeError);
  });
});
