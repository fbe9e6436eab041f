import type { TelemetryRecord } from '@fleetlog/contracts';
import { tumblingWindowOf } from '@fleetlog/windows';

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

/** The vehicle's previous in-order reading, between which and the next one distance, fuel and idling accrue. */
export interface PreviousSample {
  time: number;
  speedKph: number | undefined;
  rpm: number | undefined;
  mafGs: number | undefined;
  harsh: boolean;
}

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

/** Where VehicleMinute keeps each of its numbers in `numbers`. */
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

/**
 * One vehicle's open tumbling window (one minute by default): what the fleet dashboards chart. Distance is speed
 * integrated over time (trapezoids), fuel used is the drop in tank level and, where the vehicle reports MAF, the
 * fuel that air flow implies; idling is time at zero speed with the engine turning.
 *
 * Every vehicle keeps one or two of these, so their numbers live unboxed in one array of doubles: as object fields,
 * each number that is not a small integer is a heap object of its own, and a minute took about 450 bytes.
 */
export class VehicleMinute {
  private readonly numbers: number[];
  /** The vehicle's next open window, later than this one: open windows form a list, oldest first. */
  later: VehicleMinute | undefined;

  constructor(start: number, end: number) {
    // Literal doubles (NaN, ±Infinity) make it an array of unboxed doubles from the start.
    this.numbers = [
      start,
      end,
      0,
      0,
      0,
      -Infinity,
      -Infinity,
      -Infinity,
      0,
      0,
      0,
      0,
      0,
      Infinity,
      Number.NaN,
      -Infinity,
      Number.NaN,
      Number.NaN,
      Number.NaN,
      -Infinity,
    ];
  }

  static of(time: number, sizeMs: number): VehicleMinute {
    const { start, end } = tumblingWindowOf(time, sizeMs);
    return new VehicleMinute(start, end);
  }

  get start(): number {
    return this.numbers[startAt]!;
  }

  get end(): number {
    return this.numbers[endAt]!;
  }

  /** Readings of any message in the window, in order or not. */
  addReadings(time: number, telemetry: TelemetryRecord): void {
    const numbers = this.numbers;
    numbers[messagesAt]!++;
    const { speedKph, rpm, coolantTempC, fuelLevelPct, position } = telemetry;
    if (typeof speedKph === 'number') {
      numbers[speedSumAt] += speedKph;
      numbers[speedCountAt]!++;
      if (speedKph > numbers[maxSpeedAt]!) numbers[maxSpeedAt] = speedKph;
    }
    if (typeof rpm === 'number' && rpm > numbers[maxRpmAt]!) numbers[maxRpmAt] = rpm;
    if (typeof coolantTempC === 'number' && coolantTempC > numbers[maxCoolantAt]!)
      numbers[maxCoolantAt] = coolantTempC;
    if (typeof fuelLevelPct === 'number') {
      if (time < numbers[firstFuelTimeAt]!) {
        numbers[firstFuelTimeAt] = time;
        numbers[firstFuelAt] = fuelLevelPct;
      }
      if (time >= numbers[lastFuelTimeAt]!) {
        numbers[lastFuelTimeAt] = time;
        numbers[lastFuelAt] = fuelLevelPct;
      }
    }
    if (position && time >= numbers[locationTimeAt]!) {
      numbers[latAt] = position.lat;
      numbers[lonAt] = position.lon;
      numbers[locationTimeAt] = time;
    }
  }

  /**
   * The interval from the previous in-order reading to this one, credited to the window of the later reading.
   * Returns whether this reading is a harsh event, for the next call's onset detection.
   */
  addInterval(previous: PreviousSample, time: number, telemetry: TelemetryRecord): boolean {
    const numbers = this.numbers;
    const gapMs = time - previous.time;
    const { speedKph, mafGs } = telemetry;
    if (gapMs <= 0 || gapMs > maxIntegrationGapMs) return false;
    const hours = gapMs / 3_600_000;
    let harsh = false;
    if (typeof speedKph === 'number' && previous.speedKph !== undefined) {
      numbers[distanceKmAt] += ((previous.speedKph + speedKph) / 2) * hours;
      const rate = (speedKph - previous.speedKph) / (gapMs / 1000);
      harsh = rate <= harshBrakingKphPerSecond || rate >= harshAccelerationKphPerSecond;
      if (harsh && !previous.harsh) numbers[harshEventsAt]!++;
    }
    if (previous.speedKph === 0 && previous.rpm !== undefined && previous.rpm > 0) numbers[idleMsAt] += gapMs;
    if (typeof mafGs === 'number' && previous.mafGs !== undefined) {
      numbers[mafSeenAt] = 1;
      const airGrams = ((previous.mafGs + mafGs) / 2) * (gapMs / 1000);
      numbers[fuelLitresAt] += airGrams / stoichiometricAirFuelRatio / petrolGramsPerLitre;
    }
    return harsh;
  }

  document(vehicleId: string, fleetId: string): VehicleMinuteDocument {
    const numbers = this.numbers;
    const finite = (value: number) => (Number.isFinite(value) ? round(value) : undefined);
    const speedCount = numbers[speedCountAt]!;
    const firstFuel = numbers[firstFuelAt]!;
    return {
      '@timestamp': new Date(this.start).toISOString(),
      windowEnd: new Date(this.end).toISOString(),
      vehicleId,
      fleetId,
      messages: numbers[messagesAt]!,
      avgSpeedKph: speedCount > 0 ? round(numbers[speedSumAt]! / speedCount) : undefined,
      maxSpeedKph: finite(numbers[maxSpeedAt]!),
      maxRpm: finite(numbers[maxRpmAt]!),
      maxCoolantTempC: finite(numbers[maxCoolantAt]!),
      distanceKm: round(numbers[distanceKmAt]!),
      fuelUsedPct: Number.isNaN(firstFuel) ? undefined : round(Math.max(0, firstFuel - numbers[lastFuelAt]!)),
      fuelUsedL: numbers[mafSeenAt] === 1 ? round(numbers[fuelLitresAt]!) : undefined,
      idleSeconds: round(numbers[idleMsAt]! / 1000),
      harshEvents: numbers[harshEventsAt]!,
      location: Number.isNaN(numbers[latAt]!) ? undefined : { lat: numbers[latAt]!, lon: numbers[lonAt]! },
    };
  }
}

/** Six decimals: a metre, a millilitre; keeps the documents free of float noise. */
function round(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}

/** Keeps the reading for the next interval, reusing the vehicle's sample object: one fewer allocation per message. */
export function rememberSample(
  sample: PreviousSample | undefined,
  time: number,
  telemetry: TelemetryRecord,
  harsh: boolean,
): PreviousSample {
  const target = sample ?? { time, speedKph: undefined, rpm: undefined, mafGs: undefined, harsh };
  target.time = time;
  target.speedKph = typeof telemetry.speedKph === 'number' ? telemetry.speedKph : undefined;
  target.rpm = typeof telemetry.rpm === 'number' ? telemetry.rpm : undefined;
  target.mafGs = typeof telemetry.mafGs === 'number' ? telemetry.mafGs : undefined;
  target.harsh = harsh;
  return target;
}
