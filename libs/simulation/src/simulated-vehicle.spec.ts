import { TelemetryIngest } from '@fleetlog/telemetry';
import { driveProfiles, type DriveProfileName } from './drive-profiles';
import { SimulatedVehicle } from './simulated-vehicle';

const start = { fleetId: 'demo', vehicleId: 'sim-0003', seed: 3, lat: 52.52, lon: 13.405 };
const ingest = new TelemetryIngest({
  maxNestingDepth: 32,
  maxPayloadBytes: 4096,
  maxFutureSkewMs: 0,
  maxAgeMs: 86_400_000,
});

function driveFor(seconds: number, profile: DriveProfileName, vehicleIndex = 3) {
  const vehicle = new SimulatedVehicle(start, driveProfiles[profile](vehicleIndex));
  const t0 = Date.parse('2026-11-23T12:00:00Z');
  return Array.from({ length: seconds }, (_, second) => vehicle.tick(new Date(t0 + second * 1000), 1));
}

describe('SimulatedVehicle', () => {
  it('publishes only messages the gateway accepts', () => {
    for (const message of driveFor(200, 'mixed')) {
      const outcome = ingest.ingest(
        'fleet/demo/sim-0003/telemetry',
        Buffer.from(JSON.stringify(message)),
        new Date(message.ts),
      );
      expect(outcome).toMatchObject({ accepted: true });
    }
  });

  it('keeps rpm consistent with speed: idling when stopped, higher gears at speed', () => {
    const messages = driveFor(200, 'mixed');
    const stopped = messages.filter((message) => message.speedKph! < 2);
    const cruising = messages.filter((message) => message.speedKph! > 100);
    expect(stopped.length).toBeGreaterThan(0);
    expect(stopped.every((message) => message.rpm! < 900)).toBe(true);
    expect(cruising.every((message) => message.rpm! > 2000 && message.rpm! < 4500)).toBe(true);
  });

  it('numbers messages, advances the odometer and moves with distance driven', () => {
    const messages = driveFor(60, 'highway');
    expect(messages.map((message) => message.seq)).toEqual(messages.map((_, index) => index));
    const travelledKm = messages.at(-1)!.odometerKm! - messages[0]!.odometerKm!;
    expect(travelledKm).toBeGreaterThan(1.9);
    expect(travelledKm).toBeLessThan(2.3);
    expect(messages.at(-1)!.position!.lat).not.toBe(messages[0]!.position!.lat);
  });

  it('drives the highway profile above 120 km/h for long stretches (the demo overspeed rule fires)', () => {
    const fast = driveFor(60, 'highway').filter((message) => message.speedKph! > 120);
    expect(fast.length).toBeGreaterThan(50);
  });
});
