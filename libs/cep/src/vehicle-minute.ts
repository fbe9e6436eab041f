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
 * The numbers of the previous reading, from where a vehicle's aggregate numbers start: its event time (−∞ until
 * one) and readings (NaN where it had none).
 */
const sampleTimeAt = 0;
const sampleSpeedAt = 1;
const sampleRpmAt = 2;
const sampleMafAt = 3;
/** 1 when the interval up to the previous reading was a harsh event: the next one is its continuation, not a new one. */
const sampleHarshAt = 4;
/** Where the first open window starts. */
const minutesAt = 5;

/** Where an open window keeps each of its numbers, from its start in the array. Its end is its start + the size. */
const startAt = 0;
const messagesAt = 1;
const speedSumAt = 2;
const speedCountAt = 3;
const maxSpeedAt = 4;
const maxRpmAt = 5;
const maxCoolantAt = 6;
const distanceKmAt = 7;
/** NaN until an interval had MAF at both ends. */
const fuelLitresAt = 8;
const idleMsAt = 9;
const harshEventsAt = 10;
const firstFuelTimeAt = 11;
const firstFuelAt = 12;
const lastFuelTimeAt = 13;
const lastFuelAt = 14;
/** NaN until a message with a position. */
const latAt = 15;
const lonAt = 16;
const locationTimeAt = 17;
const minuteLength = 18;

/** A window's numbers before any message (its start aside): counts and sums 0, maxima −∞, no fuel or position. */
const emptyMinute = doubleArray(minuteLength, 0);
for (const at of [maxSpeedAt, maxRpmAt, maxCoolantAt, lastFuelTimeAt, locationTimeAt])
  emptyMinute[at] = -Infinity;
for (const at of [fuelLitresAt, firstFuelAt, lastFuelAt, latAt, lonAt]) emptyMinute[at] = Number.NaN;
emptyMinute[firstFuelTimeAt] = Infinity;

/**
 * What a vehicle remembers for its aggregates, in its one array of doubles (see `doubleArray`) after what its rules'
 * windows keep there (FactPlan): from `at` on, its previous in-order reading, between which and the next one
 * distance, fuel and idling accrue, then its open tumbling windows, oldest first: usually one, two for the allowed
 * lateness after a boundary. As object fields, every number that is not a small integer would be a heap object of
 * its own, and an array of their own would cost a vehicle about 50 bytes more.
 *
 * One layout serves every vehicle of a rule set; the methods take the vehicle's array. Those that open or close a
 * window return a new array, made once per window, so that a vehicle never carries room for a window it has not
 * opened.
 */
export class AggregateLayout {
  /** The numbers a vehicle's aggregates start with: no reading seen, no window open. */
  static readonly initial: readonly number[] = [-Infinity, Number.NaN, Number.NaN, Number.NaN, 0];
  private readonly minutesAt: number;

  constructor(
    /** Where the aggregate numbers start in a vehicle's array. */
    readonly at: number,
    /** The size of the tumbling windows, ms. */
    readonly sizeMs: number,
  ) {
    this.minutesAt = at + minutesAt;
  }

  /** Event time of the vehicle's newest in-order reading: −∞ before the first. */
  previousReadingTime(numbers: readonly number[]): number {
    return numbers[this.at + sampleTimeAt]!;
  }

  hasOpenMinute(numbers: readonly number[]): boolean {
    return numbers.length > this.minutesAt;
  }

  /** Where the open window holding `time` starts in `numbers`, or −1 when none is open for it. */
  openMinuteAt(numbers: readonly number[], time: number): number {
    for (let at = this.minutesAt; at < numbers.length && numbers[at + startAt]! <= time; at += minuteLength) {
      if (time < numbers[at + startAt]! + this.sizeMs) return at;
    }
    return -1;
  }

  /** `numbers` with an empty window for `time` in its place among the open ones. */
  withMinuteFor(numbers: readonly number[], time: number): number[] {
    const { start } = tumblingWindowOf(time, this.sizeMs);
    let insertAt = this.minutesAt;
    while (insertAt < numbers.length && numbers[insertAt + startAt]! < start) insertAt += minuteLength;
    const next = doubleArray(numbers.length + minuteLength, 0);
    copyNumbers(numbers, 0, next, 0, insertAt);
    copyNumbers(emptyMinute, 0, next, insertAt, minuteLength);
    next[insertAt + startAt] = start;
    copyNumbers(numbers, insertAt, next, insertAt + minuteLength, numbers.length - insertAt);
    return next;
  }

  /** How many of the oldest open windows end at or before `time`: those to close, in order. */
  minutesEndedBy(numbers: readonly number[], time: number): number {
    let ended = 0;
    for (
      let at = this.minutesAt;
      at < numbers.length && numbers[at + startAt]! + this.sizeMs <= time;
      at += minuteLength
    ) {
      ended++;
    }
    return ended;
  }

  /** Where the oldest open window ends: +∞ when none is open. */
  oldestMinuteEnd(numbers: readonly number[]): number {
    return this.hasOpenMinute(numbers) ? numbers[this.minutesAt + startAt]! + this.sizeMs : Infinity;
  }

  /** Where the `index`th open window (0 the oldest) starts. */
  nthMinuteAt(index: number): number {
    return this.minutesAt + index * minuteLength;
  }

  /** `numbers` without its `count` oldest windows. */
  withoutOldestMinutes(numbers: readonly number[], count: number): number[] {
    const next = doubleArray(numbers.length - count * minuteLength, 0);
    copyNumbers(numbers, 0, next, 0, this.minutesAt);
    copyNumbers(
      numbers,
      this.minutesAt + count * minuteLength,
      next,
      this.minutesAt,
      next.length - this.minutesAt,
    );
    return next;
  }

  /** Keeps the reading for the next interval. */
  rememberReading(numbers: number[], time: number, telemetry: TelemetryRecord, harsh: boolean): void {
    const { at } = this;
    numbers[at + sampleTimeAt] = time;
    numbers[at + sampleSpeedAt] = typeof telemetry.speedKph === 'number' ? telemetry.speedKph : Number.NaN;
    numbers[at + sampleRpmAt] = typeof telemetry.rpm === 'number' ? telemetry.rpm : Number.NaN;
    numbers[at + sampleMafAt] = typeof telemetry.mafGs === 'number' ? telemetry.mafGs : Number.NaN;
    numbers[at + sampleHarshAt] = harsh ? 1 : 0;
  }
}

/**
 * One of a vehicle's open tumbling windows (one minute by default): what the fleet dashboards chart. Distance is
 * speed integrated over time (trapezoids), fuel used is the drop in tank level and, where the vehicle reports MAF,
 * the fuel that air flow implies; idling is time at zero speed with the engine turning.
 *
 * A view: `over` points it at a window in a vehicle's numbers, so one object serves every vehicle.
 */
export class VehicleMinute {
  private numbers: number[] = [];
  private at = 0;

  constructor(private readonly layout: AggregateLayout) {}

  /** Points this view at the window starting at `at` (see `AggregateLayout.openMinuteAt`) of a vehicle's numbers. */
  over(numbers: number[], at: number): this {
    this.numbers = numbers;
    this.at = at;
    return this;
  }

  get start(): number {
    return this.numbers[this.at + startAt]!;
  }

  get end(): number {
    return this.start + this.layout.sizeMs;
  }

  /** Readings of any message in the window, in order or not. */
  addReadings(time: number, telemetry: TelemetryRecord): void {
    const { numbers, at } = this;
    numbers[at + messagesAt]!++;
    const { speedKph, rpm, coolantTempC, fuelLevelPct, position } = telemetry;
    if (typeof speedKph === 'number') {
      numbers[at + speedSumAt] += speedKph;
      numbers[at + speedCountAt]!++;
      if (speedKph > numbers[at + maxSpeedAt]!) numbers[at + maxSpeedAt] = speedKph;
    }
    if (typeof rpm === 'number' && rpm > numbers[at + maxRpmAt]!) numbers[at + maxRpmAt] = rpm;
    if (typeof coolantTempC === 'number' && coolantTempC > numbers[at + maxCoolantAt]!)
      numbers[at + maxCoolantAt] = coolantTempC;
    if (typeof fuelLevelPct === 'number') {
      if (time < numbers[at + firstFuelTimeAt]!) {
        numbers[at + firstFuelTimeAt] = time;
        numbers[at + firstFuelAt] = fuelLevelPct;
      }
      if (time >= numbers[at + lastFuelTimeAt]!) {
        numbers[at + lastFuelTimeAt] = time;
        numbers[at + lastFuelAt] = fuelLevelPct;
      }
    }
    if (position && time >= numbers[at + locationTimeAt]!) {
      numbers[at + latAt] = position.lat;
      numbers[at + lonAt] = position.lon;
      numbers[at + locationTimeAt] = time;
    }
  }

  /**
   * The interval from the vehicle's previous in-order reading to this one, credited to the window of the later
   * reading. Returns whether this reading is a harsh event, for the next call's onset detection.
   */
  addInterval(time: number, telemetry: TelemetryRecord): boolean {
    const { numbers, at } = this;
    const sample = this.layout.at;
    const gapMs = time - numbers[sample + sampleTimeAt]!;
    const { speedKph, mafGs } = telemetry;
    if (gapMs <= 0 || gapMs > maxIntegrationGapMs) return false;
    const hours = gapMs / 3_600_000;
    const previousSpeed = numbers[sample + sampleSpeedAt]!;
    const previousRpm = numbers[sample + sampleRpmAt]!;
    const previousMaf = numbers[sample + sampleMafAt]!;
    let harsh = false;
    if (typeof speedKph === 'number' && !Number.isNaN(previousSpeed)) {
      numbers[at + distanceKmAt] += ((previousSpeed + speedKph) / 2) * hours;
      const rate = (speedKph - previousSpeed) / (gapMs / 1000);
      harsh = rate <= harshBrakingKphPerSecond || rate >= harshAccelerationKphPerSecond;
      if (harsh && numbers[sample + sampleHarshAt] === 0) numbers[at + harshEventsAt]!++;
    }
    // NaN (no rpm) compares false.
    if (previousSpeed === 0 && previousRpm > 0) numbers[at + idleMsAt] += gapMs;
    if (typeof mafGs === 'number' && !Number.isNaN(previousMaf)) {
      const airGrams = ((previousMaf + mafGs) / 2) * (gapMs / 1000);
      const litres = airGrams / stoichiometricAirFuelRatio / petrolGramsPerLitre;
      const sofar = numbers[at + fuelLitresAt]!;
      numbers[at + fuelLitresAt] = Number.isNaN(sofar) ? litres : sofar + litres;
    }
    return harsh;
  }

  document(vehicleId: string, fleetId: string): VehicleMinuteDocument {
    const { numbers, at } = this;
    const finite = (value: number) => (Number.isFinite(value) ? round(value) : undefined);
    const speedCount = numbers[at + speedCountAt]!;
    const firstFuel = numbers[at + firstFuelAt]!;
    return {
      '@timestamp': new Date(this.start).toISOString(),
      windowEnd: new Date(this.end).toISOString(),
      vehicleId,
      fleetId,
      messages: numbers[at + messagesAt]!,
      avgSpeedKph: speedCount > 0 ? round(numbers[at + speedSumAt]! / speedCount) : undefined,
      maxSpeedKph: finite(numbers[at + maxSpeedAt]!),
      maxRpm: finite(numbers[at + maxRpmAt]!),
      maxCoolantTempC: finite(numbers[at + maxCoolantAt]!),
      distanceKm: round(numbers[at + distanceKmAt]!),
      fuelUsedPct: Number.isNaN(firstFuel)
        ? undefined
        : round(Math.max(0, firstFuel - numbers[at + lastFuelAt]!)),
      fuelUsedL: finite(numbers[at + fuelLitresAt]!),
      idleSeconds: round(numbers[at + idleMsAt]! / 1000),
      harshEvents: numbers[at + harshEventsAt]!,
      location: Number.isNaN(numbers[at + latAt]!)
        ? undefined
        : { lat: numbers[at + latAt]!, lon: numbers[at + lonAt]! },
    };
  }
}

/** Six decimals: a metre, a millilitre; keeps the documents free of float noise. */
function round(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}
