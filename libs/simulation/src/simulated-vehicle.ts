import type { TelemetryMessage } from '@fleetlog/contracts';
import type { DrivePhase } from './drive-profiles';

/** Small deterministic PRNG (mulberry32): a seeded vehicle drives the same way every run. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Ordinary driving (about 0.17 g and 0.23 g), below the harsh-event thresholds even with the jitter of ±1.5 km/h. */
const accelerationKphPerS = 6;
const brakingKphPerS = 8;
/** Upper speed of each gear, and engine rpm per km/h in it: keeps speed, rpm and gear consistent. */
const gears = [
  { upToKph: 20, rpmPerKph: 110 },
  { upToKph: 35, rpmPerKph: 68 },
  { upToKph: 55, rpmPerKph: 46 },
  { upToKph: 80, rpmPerKph: 34 },
  { upToKph: Infinity, rpmPerKph: 27 },
];
const kmPerDegreeLat = 111.32;

export interface VehicleStart {
  fleetId: string;
  vehicleId: string;
  seed: number;
  lat: number;
  lon: number;
}

/** A vehicle following a drive cycle with plausible physics; each tick yields the message it would publish. */
export class SimulatedVehicle {
  private readonly random: () => number;
  private speedKph: number;
  private coolantTempC = 20;
  private fuelLevelPct: number;
  private odometerKm: number;
  private headingDeg: number;
  private lat: number;
  private lon: number;
  private cycleSeconds = 0;
  private seq = 0;

  constructor(
    private readonly start: VehicleStart,
    private readonly phases: DrivePhase[],
  ) {
    this.random = seededRandom(start.seed);
    this.speedKph = phases[0]!.targetKph;
    this.fuelLevelPct = 40 + this.random() * 55;
    this.odometerKm = 10_000 + this.random() * 150_000;
    this.headingDeg = this.random() * 360;
    this.lat = start.lat;
    this.lon = start.lon;
  }

  tick(now: Date, elapsedSeconds: number): TelemetryMessage {
    this.cycleSeconds += elapsedSeconds;
    this.updateSpeed(elapsedSeconds);
    this.move(elapsedSeconds);
    this.coolantTempC += (90 - this.coolantTempC) * Math.min(1, 0.01 * elapsedSeconds);
    this.fuelLevelPct = Math.max(0, this.fuelLevelPct - (0.0004 + this.speedKph * 0.00002) * elapsedSeconds);
    const gear = gears.find((candidate) => this.speedKph <= candidate.upToKph)!;
    const rpm =
      this.speedKph < 2
        ? 780 + this.random() * 40
        : Math.min(6500, Math.max(900, this.speedKph * gear.rpmPerKph));
    const throttlePct = Math.min(100, 12 + this.speedKph * 0.35 + this.random() * 5);
    return {
      vehicleId: this.start.vehicleId,
      fleetId: this.start.fleetId,
      ts: now.toISOString(),
      seq: this.seq++,
      position: {
        lat: round(this.lat, 6),
        lon: round(this.lon, 6),
        headingDeg: round(this.headingDeg, 1),
        gnssSpeedKph: round(this.speedKph, 1),
      },
      speedKph: round(this.speedKph, 1),
      rpm: Math.round(rpm),
      coolantTempC: round(this.coolantTempC, 1),
      intakeAirTempC: round(25 + this.random() * 5, 1),
      engineLoadPct: round(Math.min(100, throttlePct * 0.9), 1),
      throttlePct: round(throttlePct, 1),
      fuelLevelPct: round(this.fuelLevelPct, 2),
      batteryV: round(14 + this.random() * 0.3, 2),
      mafGs: round(rpm / 200, 2),
      odometerKm: round(this.odometerKm, 3),
      ignition: true,
    };
  }

  private currentTarget(): number {
    const cycleLength = this.phases.reduce((total, phase) => total + phase.seconds, 0);
    let position = this.cycleSeconds % cycleLength;
    for (const phase of this.phases) {
      if (position < phase.seconds) return phase.targetKph;
      position -= phase.seconds;
    }
    return this.phases[0]!.targetKph;
  }

  private updateSpeed(elapsedSeconds: number): void {
    const target = this.currentTarget();
    const jitter = target > 0 ? (this.random() - 0.5) * 3 : 0;
    const step = target > this.speedKph ? accelerationKphPerS : -brakingKphPerS;
    const next = this.speedKph + step * elapsedSeconds;
    this.speedKph = Math.max(0, (step > 0 ? Math.min(next, target) : Math.max(next, target)) + jitter);
  }

  private move(elapsedSeconds: number): void {
    const distanceKm = (this.speedKph * elapsedSeconds) / 3600;
    this.odometerKm += distanceKm;
    this.headingDeg = (this.headingDeg + (this.random() - 0.5) * 4 + 360) % 360;
    const heading = (this.headingDeg * Math.PI) / 180;
    this.lat += (distanceKm * Math.cos(heading)) / kmPerDegreeLat;
    this.lon += (distanceKm * Math.sin(heading)) / (kmPerDegreeLat * Math.cos((this.lat * Math.PI) / 180));
  }
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
