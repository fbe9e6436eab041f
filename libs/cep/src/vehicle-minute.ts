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

/**
 * One vehicle's open tumbling window (one minute by default): what the fleet dashboards chart. Distance is speed
 * integrated over time (trapezoids), fuel used is the drop in tank level and, where the vehicle reports MAF, the
 * fuel that air flow implies; idling is time at zero speed with the engine turning.
 */
export class VehicleMinute {
  messages = 0;
  private speedSum = 0;
  private speedCount = 0;
  private maxSpeed = -Infinity;
  private maxRpm = -Infinity;
  private maxCoolant = -Infinity;
  private distanceKm = 0;
  private fuelLitres = 0;
  private mafSeen = false;
  private idleMs = 0;
  private harshEvents = 0;
  private firstFuelTime = Infinity;
  private firstFuel = Number.NaN;
  private lastFuelTime = -Infinity;
  private lastFuel = Number.NaN;
  private location: { lat: number; lon: number } | undefined;
  private locationTime = -Infinity;

  constructor(
    readonly start: number,
    readonly end: number,
  ) {}

  static of(time: number, sizeMs: number): VehicleMinute {
    const { start, end } = tumblingWindowOf(time, sizeMs);
    return new VehicleMinute(start, end);
  }

  /** Readings of any message in the window, in order or not. */
  addReadings(time: number, telemetry: TelemetryRecord): void {
    this.messages++;
    const { speedKph, rpm, coolantTempC, fuelLevelPct, position } = telemetry;
    if (typeof speedKph === 'number') {
      this.speedSum += speedKph;
      this.speedCount++;
      if (speedKph > this.maxSpeed) this.maxSpeed = speedKph;
    }
    if (typeof rpm === 'number' && rpm > this.maxRpm) this.maxRpm = rpm;
    if (typeof coolantTempC === 'number' && coolantTempC > this.maxCoolant) this.maxCoolant = coolantTempC;
    if (typeof fuelLevelPct === 'number') {
      if (time < this.firstFuelTime) [this.firstFuelTime, this.firstFuel] = [time, fuelLevelPct];
      if (time >= this.lastFuelTime) [this.lastFuelTime, this.lastFuel] = [time, fuelLevelPct];
    }
    if (position && time >= this.locationTime) {
      this.location = { lat: position.lat, lon: position.lon };
      this.locationTime = time;
    }
  }

  /**
   * The interval from the previous in-order reading to this one, credited to the window of the later reading.
   * Returns whether this reading is a harsh event, for the next call's onset detection.
   */
  addInterval(previous: PreviousSample, time: number, telemetry: TelemetryRecord): boolean {
    const gapMs = time - previous.time;
    const { speedKph, mafGs } = telemetry;
    if (gapMs <= 0 || gapMs > maxIntegrationGapMs) return false;
    const hours = gapMs / 3_600_000;
    let harsh = false;
    if (typeof speedKph === 'number' && previous.speedKph !== undefined) {
      this.distanceKm += ((previous.speedKph + speedKph) / 2) * hours;
      const rate = (speedKph - previous.speedKph) / (gapMs / 1000);
      harsh = rate <= harshBrakingKphPerSecond || rate >= harshAccelerationKphPerSecond;
      if (harsh && !previous.harsh) this.harshEvents++;
    }
    if (previous.speedKph === 0 && previous.rpm !== undefined && previous.rpm > 0) this.idleMs += gapMs;
    if (typeof mafGs === 'number' && previous.mafGs !== undefined) {
      this.mafSeen = true;
      const airGrams = ((previous.mafGs + mafGs) / 2) * (gapMs / 1000);
      this.fuelLitres += airGrams / stoichiometricAirFuelRatio / petrolGramsPerLitre;
    }
    return harsh;
  }

  document(vehicleId: string, fleetId: string): VehicleMinuteDocument {
    const finite = (value: number) => (Number.isFinite(value) ? round(value) : undefined);
    return {
      '@timestamp': new Date(this.start).toISOString(),
      windowEnd: new Date(this.end).toISOString(),
      vehicleId,
      fleetId,
      messages: this.messages,
      avgSpeedKph: this.speedCount > 0 ? round(this.speedSum / this.speedCount) : undefined,
      maxSpeedKph: finite(this.maxSpeed),
      maxRpm: finite(this.maxRpm),
      maxCoolantTempC: finite(this.maxCoolant),
      distanceKm: round(this.distanceKm),
      fuelUsedPct: Number.isNaN(this.firstFuel)
        ? undefined
        : round(Math.max(0, this.firstFuel - this.lastFuel)),
      fuelUsedL: this.mafSeen ? round(this.fuelLitres) : undefined,
      idleSeconds: round(this.idleMs / 1000),
      harshEvents: this.harshEvents,
      location: this.location,
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
