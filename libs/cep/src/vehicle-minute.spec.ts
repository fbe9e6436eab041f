import type { TelemetryRecord } from '@fleetlog/contracts';
import { AggregateLayout, VehicleMinute } from './vehicle-minute';

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

/** Three numbers of someone else's (FactPlan's, in cep) before the aggregates', which must stay as they are. */
const before = [7, 8, 9];
const layout = new AggregateLayout(before.length, minute);
const view = new VehicleMinute(layout);

/** A new vehicle's numbers, in an object, as the methods that open and close windows replace the array. */
const newVehicle = () => ({ numbers: [...before, ...AggregateLayout.initial] });

/** The view on the window of `time`, opened if need be. */
function minuteOf(vehicle: { numbers: number[] }, time: number): VehicleMinute {
  if (layout.openMinuteAt(vehicle.numbers, time) === -1) {
    vehicle.numbers = layout.withMinuteFor(vehicle.numbers, time);
  }
  return view.over(vehicle.numbers, layout.openMinuteAt(vehicle.numbers, time));
}

describe('a vehicle’s aggregate state', () => {
  it('starts with no reading and no window open', () => {
    const { numbers } = newVehicle();
    expect(layout.previousReadingTime(numbers)).toBe(-Infinity);
    expect(layout.hasOpenMinute(numbers)).toBe(false);
    expect(layout.openMinuteAt(numbers, t0)).toBe(-1);
    expect(layout.oldestMinuteEnd(numbers)).toBe(Infinity);
  });

  it('keeps open windows in time order, whichever opened first, and closes the oldest first', () => {
    const vehicle = newVehicle();
    // A reading of the second minute, then a late one of the first: the first opens before it.
    minuteOf(vehicle, t0 + minute + 5_000).addReadings(t0 + minute + 5_000, reading(50));
    minuteOf(vehicle, t0 + 30_000).addReadings(t0 + 30_000, reading(10));
    minuteOf(vehicle, t0 + 40_000).addReadings(t0 + 40_000, reading(20));
    const starts = [0, 1].map((index) => view.over(vehicle.numbers, layout.nthMinuteAt(index)).start);
    expect(starts).toEqual([t0, t0 + minute]);
    expect(view.end).toBe(t0 + 2 * minute);
    expect(layout.oldestMinuteEnd(vehicle.numbers)).toBe(t0 + minute);

    expect(layout.minutesEndedBy(vehicle.numbers, t0 + minute - 1)).toBe(0);
    expect(layout.minutesEndedBy(vehicle.numbers, t0 + minute)).toBe(1);
    const closed = view.over(vehicle.numbers, layout.nthMinuteAt(0)).document('truck-1', 'acme');
    expect(closed).toMatchObject({ messages: 2, avgSpeedKph: 15, maxSpeedKph: 20 });
    vehicle.numbers = layout.withoutOldestMinutes(vehicle.numbers, 1);
    expect(layout.oldestMinuteEnd(vehicle.numbers)).toBe(t0 + 2 * minute);
    expect(view.over(vehicle.numbers, layout.nthMinuteAt(0)).document('truck-1', 'acme')).toMatchObject({
      '@timestamp': new Date(t0 + minute).toISOString(),
      windowEnd: new Date(t0 + 2 * minute).toISOString(),
      messages: 1,
      maxSpeedKph: 50,
    });
    vehicle.numbers = layout.withoutOldestMinutes(vehicle.numbers, 1);
    expect(layout.hasOpenMinute(vehicle.numbers)).toBe(false);
    expect(vehicle.numbers.slice(0, before.length)).toEqual(before);
  });

  it('keeps the previous reading across windows opening and closing, and the numbers before its own', () => {
    const vehicle = newVehicle();
    layout.rememberReading(vehicle.numbers, t0, reading(36, { rpm: 900 }), false);
    const window = minuteOf(vehicle, t0 + 10_000);
    expect(layout.previousReadingTime(vehicle.numbers)).toBe(t0);
    // 10 s from 36 to 72 km/h: 3.6 km/h per second, 150 m.
    expect(window.addInterval(t0 + 10_000, reading(72))).toBe(false);
    expect(window.document('truck-1', 'acme').distanceKm).toBeCloseTo(0.15, 9);
    vehicle.numbers = layout.withoutOldestMinutes(vehicle.numbers, 1);
    expect(layout.previousReadingTime(vehicle.numbers)).toBe(t0);
    expect(vehicle.numbers.slice(0, before.length)).toEqual(before);
  });

  it('counts idling only after a reading at zero speed with the engine turning, and a harsh event once per run', () => {
    const vehicle = newVehicle();
    const step = (second: number, speedKph: number, rpm?: number) => {
      const time = t0 + second * 1_000;
      const harsh = minuteOf(vehicle, time).addInterval(time, reading(speedKph, { rpm }));
      layout.rememberReading(vehicle.numbers, time, reading(speedKph, { rpm }), harsh);
    };
    step(0, 0, 800);
    step(10, 0); // 10 s idling: the reading before had the engine turning
    step(20, 0); // not idling: the reading before had no rpm
    step(21, 20); // +20 km/h in a second: harsh
    step(22, 40); // harsh again, the same event
    step(23, 41);
    step(24, 70); // a new harsh event
    expect(view.over(vehicle.numbers, layout.nthMinuteAt(0)).document('truck-1', 'acme')).toMatchObject({
      idleSeconds: 10,
      harshEvents: 2,
    });
  });

  it('reports fuel burnt from air flow only for a window with MAF at both ends of an interval', () => {
    const vehicle = newVehicle();
    const step = (second: number, mafGs?: number) => {
      const time = t0 + second * 1_000;
      minuteOf(vehicle, time).addInterval(time, reading(50, { mafGs }));
      layout.rememberReading(vehicle.numbers, time, reading(50, { mafGs }), false);
    };
    step(0, 10.9515);
    step(10, 10.9515); // 109.515 g of air in 10 s: 7.45 g of petrol, 0.01 L
    step(60);
    step(70, 10.9515); // no MAF at the start of this minute's only interval
    const fuelOf = (index: number) =>
      view.over(vehicle.numbers, layout.nthMinuteAt(index)).document('truck-1', 'acme').fuelUsedL;
    expect([fuelOf(0), fuelOf(1)]).toEqual([0.01, undefined]);
  });
});
