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

/**
 * What a fault episode imposes on the vehicle while it lasts (see `SimulatedDevice`); the drive cycle and physics
 * do the rest, so a fault looks like a real vehicle's, ramps included.
 */
export interface VehicleCondition {
  /** Temperature the coolant moves towards (90 °C with a healthy thermostat). */
  coolantTargetC: number;
  /** Replaces the drive cycle's target speed: 0 parks the vehicle. */
  targetKphOverride: number | undefined;
  /** Deceleration used to reach a lower target: 8 km/h/s normally, above 12 for a harsh stop. */
  brakingKphPerS: number;
  /** Fuel lost per second on top of consumption (a siphon, a leak). */
  fuelLossPctPerS: number;
}

export const normalCondition: Readonly<VehicleCondition> = {
  coolantTargetC: 90,
  targetKphOverride: undefined,
  brakingKphPerS: 8,
  fuelLossPctPerS: 0,
};

/** Waypoints of the closed route each vehicle loops on, and how close counts as reaching one. */
const routeWaypoints = 8;
const waypointReachedKm = 0.05;

/**
 * A vehicle following a drive cycle with plausible physics along a closed route around its start (so a fleet stays
 * in its region however long it runs); each tick yields the message it would publish.
 */
export class SimulatedVehicle {
  /** Set by a fault episode, back to `normalCondition` when it ends. */
  condition: VehicleCondition = { ...normalCondition };
  private readonly random: () => number;
  private readonly route: Array<{ lat: number; lon: number }>;
  private nextWaypoint = 0;
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
    this.route = loopAround(start, 2 + this.random() * 6, this.random);
  }

  get currentSpeedKph(): number {
    return this.speedKph;
  }

  tick(now: Date, elapsedSeconds: number): TelemetryMessage {
    this.cycleSeconds += elapsedSeconds;
    this.updateSpeed(elapsedSeconds);
    this.move(elapsedSeconds);
    // Warming up follows the thermostat slowly; a failing cooling system drives the temperature up faster.
    const coolantTarget = this.condition.coolantTargetC;
    const warming = coolantTarget > normalCondition.coolantTargetC ? 0.03 : 0.01;
    this.coolantTempC += (coolantTarget - this.coolantTempC) * Math.min(1, warming * elapsedSeconds);
    const burnt = (0.0004 + this.speedKph * 0.00002) * elapsedSeconds;
    const lost = this.condition.fuelLossPctPerS * elapsedSeconds;
    this.fuelLevelPct = Math.max(0, this.fuelLevelPct - burnt - lost);
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
    if (this.condition.targetKphOverride !== undefined) return this.condition.targetKphOverride;
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
    const step = target > this.speedKph ? accelerationKphPerS : -this.condition.brakingKphPerS;
    const next = this.speedKph + step * elapsedSeconds;
    this.speedKph = Math.max(0, (step > 0 ? Math.min(next, target) : Math.max(next, target)) + jitter);
  }

  private move(elapsedSeconds: number): void {
    const distanceKm = (this.speedKph * elapsedSeconds) / 3600;
    this.odometerKm += distanceKm;
    const here = { lat: this.lat, lon: this.lon };
    if (distanceBetweenKm(here, this.route[this.nextWaypoint]!) < waypointReachedKm) {
      this.nextWaypoint = (this.nextWaypoint + 1) % this.route.length;
    }
    // Steers towards the next waypoint, a few degrees a second at most, with a little wander.
    const turn = ((bearingDeg(here, this.route[this.nextWaypoint]!) - this.headingDeg + 540) % 360) - 180;
    const maxTurn = 30 * elapsedSeconds;
    const steer = Math.max(-maxTurn, Math.min(maxTurn, turn)) + (this.random() - 0.5) * 2;
    this.headingDeg = (this.headingDeg + steer + 360) % 360;
    const heading = (this.headingDeg * Math.PI) / 180;
    this.lat += (distanceKm * Math.cos(heading)) / kmPerDegreeLat;
    this.lon += (distanceKm * Math.sin(heading)) / (kmPerDegreeLat * Math.cos((this.lat * Math.PI) / 180));
  }
}

/** Waypoints on a rough circle of `radiusKm` through the start point, so the loop begins where the vehicle is. */
function loopAround(
  start: { lat: number; lon: number },
  radiusKm: number,
  random: () => number,
): Array<{ lat: number; lon: number }> {
  const centreBearing = random() * 2 * Math.PI;
  const kmPerDegreeLon = kmPerDegreeLat * Math.cos((start.lat * Math.PI) / 180);
  const centre = {
    lat: start.lat + (radiusKm * Math.cos(centreBearing)) / kmPerDegreeLat,
    lon: start.lon + (radiusKm * Math.sin(centreBearing)) / kmPerDegreeLon,
  };
  const startAngle = centreBearing + Math.PI;
  return Array.from({ length: routeWaypoints }, (_, index) => {
    const angle = startAngle + ((index + 1) * 2 * Math.PI) / routeWaypoints;
    const radius = radiusKm * (0.8 + random() * 0.4);
    return {
      lat: centre.lat + (radius * Math.cos(angle)) / kmPerDegreeLat,
      lon: centre.lon + (radius * Math.sin(angle)) / kmPerDegreeLon,
    };
  });
}

/** Equirectangular: exact enough over the few kilometres of a route. */
function distanceBetweenKm(a: { lat: number; lon: number }, b: { lat: number; lon: number }): number {
  const x = (b.lon - a.lon) * kmPerDegreeLat * Math.cos((((a.lat + b.lat) / 2) * Math.PI) / 180);
  const y = (b.lat - a.lat) * kmPerDegreeLat;
  return Math.hypot(x, y);
}

function bearingDeg(from: { lat: number; lon: number }, to: { lat: number; lon: number }): number {
  const x = (to.lon - from.lon) * Math.cos((from.lat * Math.PI) / 180);
  const y = to.lat - from.lat;
  return ((Math.atan2(x, y) * 180) / Math.PI + 360) % 360;
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
