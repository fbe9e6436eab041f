import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { StreamProcessor } from '@fleetlog/cep';
import type { TelemetryDeadLetter } from '@fleetlog/contracts';
import { datasetNames } from '@fleetlog/elasticsearch';
import type { ConsumedRecord } from '@fleetlog/kafka';
import { parseRuleSet } from '@fleetlog/rules';
import {
  driveProfiles,
  faultScheduleFor,
  SimulatedDevice,
  SimulatedVehicle,
  type FaultKind,
} from '@fleetlog/simulation';
import { TelemetryIngest } from '@fleetlog/telemetry';

/**
 * The simulator's faults are there to exercise the pipeline: each must look, to the gateway and to the shipped rule
 * library, like the real thing. A device is driven for an hour of event time through the gateway's TelemetryIngest
 * and cep's StreamProcessor with every rule in rules/, and the alerts and dead letters are counted.
 */
const rulesDirectory = join(__dirname, '../../rules');
const library = parseRuleSet(
  readdirSync(rulesDirectory)
    .filter((name) => name.endsWith('.json'))
    .map((name) => ({ source: name, text: readFileSync(join(rulesDirectory, name), 'utf8') })),
);
const t0 = Date.parse('2026-11-23T12:00:00Z');

function drive(fault: FaultKind | undefined, seconds = 3600) {
  const identity = { fleetId: 'demo', vehicleId: 'sim-0001' };
  const vehicle = new SimulatedVehicle(
    { ...identity, seed: 1, lat: 52.52, lon: 13.405 },
    driveProfiles.mixed(0),
  );
  const device = new SimulatedDevice(
    vehicle,
    identity,
    fault && { kind: fault, firstAfterS: 600, everyS: 7200 },
  );
  const ingest = new TelemetryIngest({
    maxNestingDepth: 32,
    maxPayloadBytes: 65_536,
    maxFutureSkewMs: 300_000,
    maxAgeMs: 86_400_000,
  });
  const processor = new StreamProcessor(library, {
    jobVersion: 'v1',
    documents: 'derived',
    indices: datasetNames('test', 'v1'),
    allowedLatenessMs: 5_000,
    aggregateWindowMs: 60_000,
    maxRebuildMs: 3_600_000,
    maxAggregatesPerCall: Infinity,
  });
  const deadLetters: TelemetryDeadLetter[] = [];
  const raised = new Set<string>();
  let offset = 0;
  for (let second = 0; second < seconds; second++) {
    const now = new Date(t0 + second * 1000);
    const records: ConsumedRecord[] = [];
    for (const { topic, payload } of device.tick(now, 1)) {
      const outcome = ingest.ingest(topic, Buffer.from(payload), now);
      if (!outcome.accepted) {
        deadLetters.push(outcome.deadLetter);
        continue;
      }
      records.push({
        topic: 't',
        partition: 0,
        offset: String(offset++),
        key: undefined,
        value: outcome.bytes,
      });
    }
    const batch = processor.process(records);
    const clock = processor.advanceClock(now.getTime(), [0]);
    for (const alert of [...batch.alerts, ...clock.alerts]) {
      if (alert.status === 'active') raised.add(alert.ruleId);
    }
  }
  return { raised: [...raised].sort(), deadLetters };
}

describe('simulated faults, as the gateway and the rule library see them', () => {
  const healthy = drive(undefined);

  it('a healthy vehicle on the mixed cycle raises only what its cycle provokes, and no dead letter', () => {
    // Two of every four mixed-cycle vehicles speed; this one (index 0) does not.
    expect(healthy.raised).toEqual([]);
    expect(healthy.deadLetters).toEqual([]);
  });

  it.each([
    ['overheat', 'engine-overheat'],
    ['harsh-braking', 'harsh-braking'],
    ['dtc', 'new-dtc'],
    ['fuel-theft', 'fuel-theft'],
    ['offline', 'vehicle-offline'],
  ] as const)('%s is seen by %s', (fault, ruleId) => {
    const { raised, deadLetters } = drive(fault);
    expect(raised).toContain(ruleId);
    expect(deadLetters).toEqual([]);
  });

  it('bad payloads become dead letters of every kind the gateway tells apart, and the vehicle keeps reporting', () => {
    const { deadLetters, raised } = drive('bad-payload');
    expect(new Set(deadLetters.map((letter) => letter.reason))).toEqual(
      new Set([
        'invalid-json',
        'schema-violation',
        'timestamp-out-of-range',
        'identity-mismatch',
        'nesting-too-deep',
      ]),
    );
    expect(deadLetters).toHaveLength(60);
    expect(raised).toEqual([]);
  });

  it('gives a fault to about the share of the fleet asked for, every kind in turn', () => {
    const schedules = Array.from({ length: 10_000 }, (_, index) => faultScheduleFor(index, 0.1, 1800));
    const faulty = schedules.filter((schedule) => schedule !== undefined);
    expect(faulty.length).toBeGreaterThan(900);
    expect(faulty.length).toBeLessThan(1100);
    expect(new Set(faulty.map((schedule) => schedule.kind)).size).toBe(6);
    expect(faulty.every((schedule) => schedule.firstAfterS >= 60 && schedule.firstAfterS < 1800)).toBe(true);
  });
});

describe('simulated route', () => {
  it('keeps a vehicle on a loop near its start however long it drives', () => {
    const vehicle = new SimulatedVehicle(
      { fleetId: 'demo', vehicleId: 'sim-0001', seed: 5, lat: 52.52, lon: 13.405 },
      driveProfiles.highway(0),
    );
    let farthestKm = 0;
    let odometerStart: number | undefined;
    let odometer = 0;
    for (let second = 0; second < 6 * 3600; second++) {
      const message = vehicle.tick(new Date(t0 + second * 1000), 1);
      odometerStart ??= message.odometerKm!;
      odometer = message.odometerKm!;
      const { lat, lon } = message.position!;
      const km = Math.hypot(
        (lat - 52.52) * 111.32,
        (lon - 13.405) * 111.32 * Math.cos((52.52 * Math.PI) / 180),
      );
      farthestKm = Math.max(farthestKm, km);
    }
    // Six hours on the highway cycle is over 600 km driven, all of it within a loop of at most 16 km across.
    expect(odometer - odometerStart!).toBeGreaterThan(600);
    expect(farthestKm).toBeLessThan(20);
  });
});
