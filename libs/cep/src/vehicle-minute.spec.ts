import type { TelemetryRecord } from '@fleetlog/contracts';
import {
  hasOpenMinute,
  minutesEndedBy,
  newAggregateState,
  nthMinuteAt,
  oldestMinuteEnd,
  openMinuteAt,
  previousReadingTime,
  rememberReading,
  VehicleMinute,
  withMinuteFor,
  withoutOldestMinutes,
  type AggregateState,
} from './vehicle-minute';

const t0 = Date.parse('2026-11-23T12:00:00Z');
const minute = 60_000;

function reading(speedKph: number, extra: Partial<TelemetryRecord> = {}): TelemetryRecord {
  return {
    vehicleId: 'truck-1',
    fleetId: 'acme',
    ts: '',
    channel: 'telemetry',
    receivedAt: '',
    speedKph,
    ...extra,
  };
}

const view = new VehicleMinute();

/** The view on the window of `time`, opened if need be (which replaces the state's array). */
function minuteOf(state: { aggregates: AggregateState }, time: number): VehicleMinute {
  if (openMinuteAt(state.aggregates, time) === -1) {
    state.aggregates = withMinuteFor(state.aggregates, time, minute);
  }
  return view.over(state.aggregates, openMinuteAt(state.aggregates, time));
}

describe('a vehicle’s aggregate state', () => {
  it('starts with no reading and no window open', () => {
    const state = newAggregateState();
    expect(previousReadingTime(state)).toBe(-Infinity);
    expect(hasOpenMinute(state)).toBe(false);
    expect(openMinuteAt(state, t0)).toBe(-1);
    expect(oldestMinuteEnd(state)).toBe(Infinity);
  });

  it('keeps open windows in time order, whichever opened first, and closes the oldest first', () => {
    const state = { aggregates: newAggregateState() };
    // A reading of the second minute, then a late one of the first: the first opens before it.
    minuteOf(state, t0 + minute + 5_000).addReadings(t0 + minute + 5_000, reading(50));
    minuteOf(state, t0 + 30_000).addReadings(t0 + 30_000, reading(10));
    minuteOf(state, t0 + 40_000).addReadings(t0 + 40_000, reading(20));
    const starts = [0, 1].map((index) => view.over(state.aggregates, nthMinuteAt(index)).start);
    expect(starts).toEqual([t0, t0 + minute]);
    expect(oldestMinuteEnd(state.aggregates)).toBe(t0 + minute);

    expect(minutesEndedBy(state.aggregates, t0 + minute - 1)).toBe(0);
    expect(minutesEndedBy(state.aggregates, t0 + minute)).toBe(1);
    const closed = view.over(state.aggregates, nthMinuteAt(0)).document('truck-1', 'acme');
    expect(closed).toMatchObject({ messages: 2, avgSpeedKph: 15, maxSpeedKph: 20 });
    state.aggregates = withoutOldestMinutes(state.aggregates, 1);
    expect(oldestMinuteEnd(state.aggregates)).toBe(t0 + 2 * minute);
    expect(view.over(state.aggregates, nthMinuteAt(0)).document('truck-1', 'acme')).toMatchObject({
      '@timestamp': new Date(t0 + minute).toISOString(),
      messages: 1,
      maxSpeedKph: 50,
    });
    state.aggregates = withoutOldestMinutes(state.aggregates, 1);
    expect(hasOpenMinute(state.aggregates)).toBe(false);
  });

  it('keeps the previous reading across windows opening and closing', () => {
    const state = { aggregates: newAggregateState() };
    rememberReading(state.aggregates, t0, reading(36, { rpm: 900 }), false);
    const window = minuteOf(state, t0 + 10_000);
    expect(previousReadingTime(state.aggregates)).toBe(t0);
    // 10 s from 36 to 72 km/h: 3.6 km/h per second, 150 m.
    expect(window.addInterval(t0 + 10_000, reading(72))).toBe(false);
    expect(window.document('truck-1', 'acme').distanceKm).toBeCloseTo(0.15, 9);
    state.aggregates = withoutOldestMinutes(state.aggregates, 1);
    expect(previousReadingTime(state.aggregates)).toBe(t0);
  });

  it('counts idling only after a reading at zero speed with the engine turning, and a harsh event once per run', () => {
    const state = { aggregates: newAggregateState() };
    const step = (second: number, speedKph: number, rpm?: number) => {
      const time = t0 + second * 1_000;
      const harsh = minuteOf(state, time).addInterval(time, reading(speedKph, { rpm }));
      rememberReading(state.aggregates, time, reading(speedKph, { rpm }), harsh);
    };
    step(0, 0, 800);
    step(10, 0); // 10 s idling: the reading before had the engine turning
    step(20, 0); // not idling: the reading before had no rpm
    step(21, 20); // +20 km/h in a second: harsh
    step(22, 40); // harsh again, the same event
    step(23, 41);
    step(24, 70); // a new harsh event
    expect(view.over(state.aggregates, nthMinuteAt(0)).document('truck-1', 'acme')).toMatchObject({
      idleSeconds: 10,
      harshEvents: 2,
    });
  });
});
