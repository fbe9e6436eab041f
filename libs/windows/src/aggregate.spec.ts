import fc from 'fast-check';
import { Aggregate } from './aggregate';
import { windowFunctions } from './window-function';

function aggregateOf(events: ReadonlyArray<readonly [time: number, value: number]>): Aggregate {
  const aggregate = new Aggregate();
  for (const [time, value] of events) aggregate.add(time, value);
  return aggregate;
}

const valuesOf = (aggregate: Aggregate) => windowFunctions.map((fn) => [fn, aggregate.value(fn)]);

describe('Aggregate', () => {
  // Deviations from the mean 5 are −1, 3, 1, −3: population variance 20 / 4.
  const events = [
    [1_000, 4],
    [2_000, 8],
    [3_000, 6],
    [4_000, 2],
  ] as const;

  it('computes every window function on known data', () => {
    expect(valuesOf(aggregateOf(events))).toEqual([
      ['avg', 5],
      ['min', 2],
      ['max', 8],
      ['sum', 20],
      ['count', 4],
      ['first', 4],
      ['last', 2],
      ['stddev', Math.sqrt(5)],
      ['delta', -2],
    ]);
  });

  it('has a count and sum of 0 and no other value when empty', () => {
    expect(valuesOf(new Aggregate())).toEqual([
      ['avg', undefined],
      ['min', undefined],
      ['max', undefined],
      ['sum', 0],
      ['count', 0],
      ['first', undefined],
      ['last', undefined],
      ['stddev', undefined],
      ['delta', undefined],
    ]);
  });

  it('takes first and last by event time when events arrive out of order', () => {
    const aggregate = aggregateOf([events[2], events[3], events[0], events[1]]);
    expect([aggregate.first, aggregate.firstTime, aggregate.last, aggregate.lastTime]).toEqual([
      4, 1_000, 2, 4_000,
    ]);
    expect(aggregate.value('delta')).toBe(-2);
  });

  it('gives an equal event time to the earlier add for first and to the later add for last', () => {
    const aggregate = aggregateOf([
      [1_000, 1],
      [1_000, 2],
      [1_000, 3],
    ]);
    expect([aggregate.first, aggregate.last]).toEqual([1, 3]);
  });

  it('keeps the standard deviation of odometer-sized values with a small spread', () => {
    const odometer = aggregateOf([
      [1, 123456.7],
      [2, 123456.8],
      [3, 123456.9],
    ]);
    expect(odometer.stddev).toBeCloseTo(Math.sqrt(0.02 / 3), 9);
    // Welford's classic trap for sums of squares: 4, 7, 13, 16 (population stddev √22.5) shifted by 1e9.
    const shifted = aggregateOf([4, 7, 13, 16].map((value, time) => [time, 1e9 + value] as const));
    expect(shifted.stddev).toBeCloseTo(Math.sqrt(22.5), 6);
  });

  it('ignores values and times that are not finite numbers', () => {
    const aggregate = aggregateOf(events);
    expect([aggregate.add(5_000, NaN), aggregate.add(5_000, Infinity), aggregate.add(NaN, 1)]).toEqual([
      false,
      false,
      false,
    ]);
    expect(aggregate.toJSON()).toEqual(aggregateOf(events).toJSON());
  });

  it('serializes every function with the first and last event times', () => {
    expect(JSON.parse(JSON.stringify(aggregateOf(events)))).toEqual({
      count: 4,
      sum: 20,
      avg: 5,
      min: 2,
      max: 8,
      stddev: Math.sqrt(5),
      first: 4,
      firstTime: 1_000,
      last: 2,
      lastTime: 4_000,
      delta: -2,
    });
  });

  it('merges to what adding every event to one aggregate gives', () => {
    const event = fc.tuple(
      fc.integer({ min: 0, max: 100 }),
      fc.oneof(
        fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }),
        fc.double({ noNaN: true, min: 123_000, max: 124_000 }),
      ),
    );
    fc.assert(
      fc.property(fc.array(event, { maxLength: 30 }), fc.array(event, { maxLength: 30 }), (left, right) => {
        const merged = aggregateOf(left).merge(aggregateOf(right));
        const whole = aggregateOf([...left, ...right]);
        for (const fn of ['count', 'min', 'max', 'first', 'last', 'delta'] as const) {
          expect(merged.value(fn)).toBe(whole.value(fn));
        }
        // Rounding differs with the order of operations: within a few ulps of the sum of magnitudes.
        const scale = [...left, ...right].reduce((total, [, value]) => total + Math.abs(value), 1);
        for (const fn of ['sum', 'avg', 'stddev'] as const) {
          expect(Math.abs((merged.value(fn) ?? 0) - (whole.value(fn) ?? 0))).toBeLessThanOrEqual(
            1e-12 * scale,
          );
        }
      }),
      { numRuns: 500 },
    );
  });
});
