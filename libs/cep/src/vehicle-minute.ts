import type { TelemetryRecord } from '@fleetlog/contracts';
import { copyNumbers, doubleArray, tumblingWindowOf } from '@fleetlog/windows';

/**
 * Speed change per second that counts as a harsh event: about 0.34 g braking and 0.28 g acceleration, the usual
 * telematics thresholds for light vehicles. The rule library's harsh-braking and harsh-acceleration rules use the
 * same numbers, so the aggregate count and the alerts agree.
 */
export const harshBrakingKphPerSecond = -12;
export const harshAccelerationKphPerSecond = 10;

/** A gap longer than this is the vehicle off or out of reach, not driving: it adds no distance, fuel or idling. */
const maxIntegrationGapMs = 60_000;
/** Grams of petrol per litre, and the stoichiometric air-fuel ratio: MAF g/s of air to litres of fuel. */
const petrolGramsPerLitre = 745;
const stoichiometricAirFuelRatio = 14.7;

/** The per-vehicle aggregate document of one closed tumbling window. */
export interface VehicleMinuteDocument {
  '@timestamp': string;
  windowEnd: string;
  vehicleId: string;
  fleetId: string;
  messages: number;
  avgSpeedKph?: number;
  maxSpeedKph?: number;
  maxRpm?: number;
  maxCoolantTempC?: number;
  distanceKm: number;
  fuelUsedPct?: number;
  fuelUsedL?: number;
  idleSeconds: number;
  harshEvents: number;
  location?: { lat: number; lon: number };
}

/**
 * What a vehicle remembers for its aggregates, in one array of doubles (see `doubleArray`): its previous in-order
 * reading, between which and the next one distance, fuel and idling accrue, then its open tumbling windows, oldest
 * first, `minuteLength` numbers each: usually one, two for the allowed lateness after a boundary. As object fields,
 * every number that is not a small integer would be a heap object of its own; as one object and array per window, a
 * vehicle paid about 620 bytes at a boundary where these arrays take about 410.
 */
export type AggregateState = number[];

/** The previous in-order reading: its event time (−∞ until one) and readings (NaN where it had none). */
const sampleTimeAt = 0;
const sampleSpeedAt = 1;
const sampleRpmAt = 2;
const sampleMafAt = 3;
/** 1 when the interval up to the previous reading was a harsh event: the next one is its continuation, not a new one. */
const sampleHarshAt = 4;
/** Where the first open window starts. */
const minutesAt = 5;

/** Where an open window keeps each of its numbers, from its start in the array. */
const startAt = 0;
const endAt = 1;
const messagesAt = 2;
const speedSumAt = 3;
const speedCountAt = 4;
const maxSpeedAt = 5;
const maxRpmAt = 6;
const maxCoolantAt = 7;
const distanceKmAt = 8;
const fuelLitresAt = 9;
/** 1 once an interval had MAF at both ends. */
const mafSeenAt = 10;
const idleMsAt = 11;
const harshEventsAt = 12;
const firstFuelTimeAt = 13;
const firstFuelAt = 14;
const lastFuelTimeAt = 15;
const lastFuelAt = 16;
/** NaN until a message with a position. */
const latAt = 17;
const lonAt = 18;
const locationTimeAt = 19;
const minuteLength = 20;

/** A window's numbers before any message (start and end aside): counts and sums 0, maxima −∞, no fuel or position. */
const emptyMinute = doubleArray(minuteLength, 0);
for (const at of [maxSpeedAt, maxRpmAt, maxCoolantAt, lastFuelTimeAt, locationTimeAt])
  emptyMinute[at] = -Infinity;
for (const at of [firstFuelAt, lastFuelAt, latAt, lonAt]) emptyMinute[at] = Number.NaN;
emptyMinute[firstFuelTimeAt] = Infinity;

/** No reading seen, no window open. Literal doubles (NaN, −∞) make it an array of unboxed doubles from the start. */
export function newAggregateState(): AggregateState {
  return [-Infinity, Number.NaN, Number.NaN, Number.NaN, 0];
}

/** Event time of the vehicle's newest in-order reading: −∞ before the first. */
export function previousReadingTime(state: AggregateState): number {
  return state[sampleTimeAt]!;
}

export function hasOpenMinute(state: AggregateState): boolean {
  return state.length > minutesAt;
}

/** Where the open window holding `time` starts in `state`, or −1 when none is open for it. */
export function openMinuteAt(state: AggregateState, time: number): number {
  for (let at = minutesAt; at < state.length && state[at + startAt]! <= time; at += minuteLength) {
    if (time < state[at + endAt]!) return at;
  }
  return -1;
}

/**
 * `state` with an empty window for the `sizeMs` tumbling window of `time` in its place among the open ones: a new
 * array, made once per window, so that a vehicle never carries room for a window it has not opened.
 */
export function withMinuteFor(state: AggregateState, time: number, sizeMs: number): AggregateState {
  const { start, end } = tumblingWindowOf(time, sizeMs);
  let insertAt = minutesAt;
  while (insertAt < state.length && state[insertAt + startAt]! < start) insertAt += minuteLength;
  const next = doubleArray(state.length + minuteLength, 0);
  copyNumbers(state, 0, next, 0, insertAt);
  copyNumbers(emptyMinute, 0, next, insertAt, minuteLength);
  next[insertAt + startAt] = start;
  next[insertAt + endAt] = end;
  copyNumbers(state, insertAt, next, insertAt + minuteLength, state.length - insertAt);
  return next;
}

/** How many of the oldest open windows end at or before `time`: those to close, in order, from `minutesAt` on. */
export function minutesEndedBy(state: AggregateState, time: number): number {
  let ended = 0;
  for (let at = minutesAt; at < state.length && state[at + endAt]! <= time; at += minuteLength) ended++;
  return ended;
}

/** Where the oldest open window ends: +∞ when none is open. */
export function oldestMinuteEnd(state: AggregateState): number {
  return hasOpenMinute(state) ? state[minutesAt + endAt]! : Infinity;
}

/** Where the `index`th open window (0 the oldest) starts. */
export function nthMinuteAt(index: number): number {
  return minutesAt + index * minuteLength;
}

/** `state` without its `count` oldest windows. */
export function withoutOldestMinutes(state: AggregateState, count: number): AggregateState {
  const next = doubleArray(state.length - count * minuteLength, 0);
  copyNumbers(state, 0, next, 0, minutesAt);
  copyNumbers(state, minutesAt + count * minuteLength, next, minutesAt, next.length - minutesAt);
  return next;
}

/** Keeps the reading for the next interval. */
export function rememberReading(
  state: AggregateState,
  time: number,
  telemetry: TelemetryRecord,
  harsh: boolean,
): void {
  state[sampleTimeAt] = time;
  state[sampleSpeedAt] = typeof telemetry.speedKph === 'number' ? telemetry.speedKph : Number.NaN;
  state[sampleRpmAt] = typeof telemetry.rpm === 'number' ? telemetry.rpm : Number.NaN;
  state[sampleMafAt] = typeof telemetry.mafGs === 'number' ? telemetry.mafGs : Number.NaN;
  state[sampleHarshAt] = harsh ? 1 : 0;
}

/**
 * One of a vehicle's open tumbling windows (one minute by default): what the fleet dashboards chart. Distance is
 * speed integrated over time (trapezoids), fuel used is the drop in tank level and, where the vehicle reports MAF,
 * the fuel that air flow implies; idling is time at zero speed with the engine turning.
 *
 * A view: `over` points it at a window in a vehicle's `AggregateState`, so one object serves every vehicle.
 */
export class VehicleMinute {
  private state: AggregateState = newAggregateState();
  private at = minutesAt;

  /** Points this view at the window starting at `at` (see `openMinuteAt`) of a vehicle's state. */
  over(state: AggregateState, at: number): this {
    this.state = state;
    this.at = at;
    return this;
  }

  get start(): number {
    return this.state[this.at + startAt]!;
  }

  get end(): number {
    return this.state[this.at + endAt]!;
  }

  /** Readings of any message in the window, in order or not. */
  addReadings(time: number, telemetry: TelemetryRecord): void {
    const { state, at } = this;
    state[at + messagesAt]!++;
    const { speedKph, rpm, coolantTempC, fuelLevelPct, position } = telemetry;
    if (typeof speedKph === 'number') {
      state[at + speedSumAt] += speedKph;
      state[at + speedCountAt]!++;
      if (speedKph > state[at + maxSpeedAt]!) state[at + maxSpeedAt] = speedKph;
    }
    if (typeof rpm === 'number' && rpm > state[at + maxRpmAt]!) state[at + maxRpmAt] = rpm;
    if (typeof coolantTempC === 'number' && coolantTempC > state[at + maxCoolantAt]!)
      state[at + maxCoolantAt] = coolantTempC;
    if (typeof fuelLevelPct === 'number') {
      if (time < state[at + firstFuelTimeAt]!) {
        state[at + firstFuelTimeAt] = time;
        state[at + firstFuelAt] = fuelLevelPct;
      }
      if (time >= state[at + lastFuelTimeAt]!) {
        state[at + lastFuelTimeAt] = time;
        state[at + lastFuelAt] = fuelLevelPct;
      }
    }
    if (position && time >= state[at + locationTimeAt]!) {
      state[at + latAt] = position.lat;
      state[at + lonAt] = position.lon;
      state[at + locationTimeAt] = time;
    }
  }

  /**
   * The interval from the vehicle's previous in-order reading to this one, credited to the window of the later
   * reading. Returns whether this reading is a harsh event, for the next call's onset detection.
   */
  addInterval(time: number, telemetry: TelemetryRecord): boolean {
    const { state, at } = this;
    const gapMs = time - state[sampleTimeAt]!;
    const { speedKph, mafGs } = telemetry;
    if (gapMs <= 0 || gapMs > maxIntegrationGapMs) return false;
    const hours = gapMs / 3_600_000;
    const previousSpeed = state[sampleSpeedAt]!;
    const previousRpm = state[sampleRpmAt]!;
    const previousMaf = state[sampleMafAt]!;
    let harsh = false;
    if (typeof speedKph === 'number' && !Number.isNaN(previousSpeed)) {
      state[at + distanceKmAt] += ((previousSpeed + speedKph) / 2) * hours;
      const rate = (speedKph - previousSpeed) / (gapMs / 1000);
      harsh = rate <= harshBrakingKphPerSecond || rate >= harshAccelerationKphPerSecond;
      if (harsh && state[sampleHarshAt] === 0) state[at + harshEventsAt]!++;
    }
    // NaN (no rpm) compares false.
    if (previousSpeed === 0 && previousRpm > 0) state[at + idleMsAt] += gapMs;
    if (typeof mafGs === 'number' && !Number.isNaN(previousMaf)) {
      state[at + mafSeenAt] = 1;
      const airGrams = ((previousMaf + mafGs) / 2) * (gapMs / 1000);
      state[at + fuelLitresAt] += airGrams / stoichiometricAirFuelRatio / petrolGramsPerLitre;
    }
    return harsh;
  }

  document(vehicleId: string, fleetId: string): VehicleMinuteDocument {
    const { state, at } = this;
    const finite = (value: number) => (Number.isFinite(value) ? round(value) : undefined);
    const speedCount = state[at + speedCountAt]!;
    const firstFuel = state[at + firstFuelAt]!;
    return {
      '@timestamp': new Date(this.start).toISOString(),
      windowEnd: new Date(this.end).toISOString(),
      vehicleId,
      fleetId,
      messages: state[at + messagesAt]!,
      avgSpeedKph: speedCount > 0 ? round(state[at + speedSumAt]! / speedCount) : undefined,
      maxSpeedKph: finite(state[at + maxSpeedAt]!),
      maxRpm: finite(state[at + maxRpmAt]!),
      maxCoolantTempC: finite(state[at + maxCoolantAt]!),
      distanceKm: round(state[at + distanceKmAt]!),
      fuelUsedPct: Number.isNaN(firstFuel)
        ? undefined
        : round(Math.max(0, firstFuel - state[at + lastFuelAt]!)),
      fuelUsedL: state[at + mafSeenAt] === 1 ? round(state[at + fuelLitresAt]!) : undefined,
      idleSeconds: round(state[at + idleMsAt]! / 1000),
      harshEvents: state[at + harshEventsAt]!,
      location: Number.isNaN(state[at + latAt]!)
        ? undefined
        : { lat: state[at + latAt]!, lon: state[at + lonAt]! },
    };
  }
}

/** Six decimals: a metre, a millilitre; keeps the documents free of float noise. */
function round(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}
