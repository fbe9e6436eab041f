import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  harshAccelerationKphPerSecond,
  harshBrakingKphPerSecond,
  StreamProcessor,
  type StreamProcessorOptions,
} from '@fleetlog/cep';
import { encodeTelemetryRecord, type AlertMessage, type TelemetryRecord } from '@fleetlog/contracts';
import { datasetNames } from '@fleetlog/elasticsearch';
import type { ConsumedRecord } from '@fleetlog/kafka';
import { parseRuleSet, type Rule } from '@fleetlog/rules';
import { driveProfiles, SimulatedVehicle } from '@fleetlog/simulation';

/**
 * The rule library in rules/, each rule run alone through cep's StreamProcessor on hand-made message sequences:
 * one that fires it (with the start and raise times worked out by hand) and near misses that must not.
 */

const rulesDirectory = join(__dirname, '../../rules');
const library: Rule[] = parseRuleSet(
  readdirSync(rulesDirectory)
    .filter((name) => name.endsWith('.json'))
    .sort()
    .map((name) => ({ source: name, text: readFileSync(join(rulesDirectory, name), 'utf8') })),
);

/** 12:00:00 UTC, a whole minute: the 10m windows' one-minute panes start on the minute. */
const t0 = Date.parse('2026-11-23T12:00:00Z');
const options: StreamProcessorOptions = {
  jobVersion: 'v1',
  documents: 'derived',
  indices: datasetNames('test', 'v1'),
  allowedLatenessMs: 5_000,
  aggregateWindowMs: 60_000,
  maxRebuildMs: 3_600_000,
  maxAggregatesPerCall: Infinity,
};

function ruleById(id: string): Rule {
  const rule = library.find((candidate) => candidate.id === id);
  if (!rule) throw new Error(`rules/ has no rule "${id}"`);
  return rule;
}

/** A processor with only this rule, so that each rule's tests see nothing of the others. */
function processorFor(id: string): StreamProcessor {
  return new StreamProcessor([ruleById(id)], options);
}

/** One vehicle's messages as cep consumes them from fleet.telemetry (partition 0), seconds counted from t0. */
class Feed {
  readonly records: ConsumedRecord[] = [];

  constructor(
    private readonly vehicleId = 'van-7',
    private readonly fleetId = 'acme',
  ) {}

  at(second: number, readings: Partial<TelemetryRecord> = {}): this {
    const ts = new Date(t0 + second * 1000).toISOString();
    const value: TelemetryRecord = {
      vehicleId: this.vehicleId,
      fleetId: this.fleetId,
      ts,
      channel: 'telemetry',
      receivedAt: ts,
      ...readings,
    };
    this.records.push(consumed(value, this.records.length));
    return this;
  }

  /** A message every `step` seconds from `from` to `to` inclusive. */
  every(
    step: number,
    from: number,
    to: number,
    readings: (second: number) => Partial<TelemetryRecord>,
  ): this {
    for (let second = from; second <= to; second += step) this.at(second, readings(second));
    return this;
  }
}

function consumed(value: TelemetryRecord, offset: number): ConsumedRecord {
  return {
    topic: 'fleet.telemetry',
    partition: 0,
    offset: String(offset),
    key: value.vehicleId,
    value: encodeTelemetryRecord(value),
  };
}

/** Runs one rule alone over the feed and returns its alert transitions. */
function alertsOf(ruleId: string, feed: Feed): AlertMessage[] {
  return processorFor(ruleId).process(feed.records).alerts;
}

/** The lifecycle of each transition, the part the tests compute by hand. */
function lifecycle(alerts: readonly AlertMessage[]) {
  return alerts.map(({ ruleId, status, startedAt, raisedAt, clearedAt }) => ({
    ruleId,
    status,
    startedAt,
    raisedAt,
    ...(clearedAt !== undefined && { clearedAt }),
  }));
}

/** A rule's single numeric threshold on `fact`, read from the library file. */
function thresholdOf(rule: Rule, fact: string): unknown {
  const { all } = rule.conditions as { all: Array<{ fact: string; value: unknown }> };
  return all.find((leaf) => leaf.fact === fact)?.value;
}

describe('rule library', () => {
  it('loads every rule file in rules/, one rule each, at version 1', () => {
    expect(library.map((rule) => rule.id).sort()).toEqual([
      'engine-overheat',
      'excessive-idling',
      'fuel-theft',
      'geofence-exit',
      'harsh-acceleration',
      'harsh-braking',
      'low-battery-engine-off',
      'new-dtc',
      'overspeed',
      'vehicle-offline',
    ]);
    expect(library.every((rule) => rule.version === 1 && rule.enabled)).toBe(true);
    expect(library.every((rule) => rule.message.includes('{{vehicleId}}'))).toBe(true);
  });

  it('uses the harsh-event thresholds of cep per-minute aggregates, so alerts and dashboards agree', () => {
    expect(thresholdOf(ruleById('harsh-braking'), 'rate')).toBe(harshBrakingKphPerSecond);
    expect(thresholdOf(ruleById('harsh-acceleration'), 'rate')).toBe(harshAccelerationKphPerSecond);
  });

  it('raises no geofence, fuel theft or low battery alert on 10 minutes of the demo fleet driving', () => {
    // The demo as tools/main runs it: 5 vehicles of fleet demo, mixed profile, started as apps/simulator does.
    const vehicles = Array.from(
      { length: 5 },
      (_, index) =>
        new SimulatedVehicle(
          {
            fleetId: 'demo',
            vehicleId: `sim-${String(index + 1).padStart(4, '0')}`,
            seed: index + 1,
            lat: 52.52 + index * 0.01,
            lon: 13.405,
          },
          driveProfiles.mixed(index),
        ),
    );
    const records: ConsumedRecord[] = [];
    for (let second = 0; second < 600; second++) {
      const now = new Date(t0 + second * 1000);
      for (const vehicle of vehicles) {
        const message = vehicle.tick(now, 1);
        records.push(consumed({ ...message, channel: 'telemetry', receivedAt: message.ts }, records.length));
      }
    }
    const alerts = new StreamProcessor(library, options).process(records).alerts;
    const raised = new Set(alerts.map((alert) => alert.ruleId));
    expect(raised).not.toContain('geofence-exit');
    expect(raised).not.toContain('fuel-theft');
    expect(raised).not.toContain('low-battery-engine-off');
    // Only driving behaviour: two of every four vehicles break 120 km/h on the highway stretch; the simulator
    // brakes and accelerates ordinarily, below the harsh thresholds.
    expect([...raised].sort()).toEqual(['overspeed']);
  });
});

describe('overspeed', () => {
  it('fires once the vehicle has been above 120 km/h for 10 s', () => {
    const feed = new Feed().at(0, { speedKph: 110 }).every(1, 1, 15, () => ({ speedKph: 125 }));
    const alerts = alertsOf('overspeed', feed);
    expect(lifecycle(alerts)).toEqual([
      {
        ruleId: 'overspeed',
        status: 'active',
        startedAt: '2026-11-23T12:00:01.000Z',
        raisedAt: '2026-11-23T12:00:11.000Z',
      },
    ]);
    expect(alerts[0]!.message).toBe('van-7 above 120 km/h for 10 s (now 125 km/h)');
  });

  it('stays quiet above 120 km/h for only 9 s, and at exactly 120 km/h for minutes', () => {
    const feed = new Feed()
      .every(1, 0, 9, () => ({ speedKph: 125 }))
      .at(10, { speedKph: 110 })
      .every(1, 20, 200, () => ({ speedKph: 120 }));
    expect(alertsOf('overspeed', feed)).toEqual([]);
  });
});

describe('engine-overheat', () => {
  it('fires when the coolant has been above 105 °C for 30 s', () => {
    const feed = new Feed().at(0, { coolantTempC: 98 }).every(5, 5, 40, () => ({ coolantTempC: 106 }));
    const alerts = alertsOf('engine-overheat', feed);
    expect(lifecycle(alerts)).toEqual([
      {
        ruleId: 'engine-overheat',
        status: 'active',
        startedAt: '2026-11-23T12:00:05.000Z',
        raisedAt: '2026-11-23T12:00:35.000Z',
      },
    ]);
    expect(alerts[0]!).toMatchObject({ severity: 'critical' });
    expect(alerts[0]!.message).toBe(
      'van-7 engine overheating: coolant 106 °C, above 105 °C for 30 s. Stop the engine.',
    );
  });

  it('stays quiet at 104 °C for 10 minutes', () => {
    const feed = new Feed().every(5, 0, 600, () => ({ coolantTempC: 104 }));
    expect(alertsOf('engine-overheat', feed)).toEqual([]);
  });

  it('stays quiet when the coolant is above 105 °C for only 20 s', () => {
    const feed = new Feed()
      .at(0, { coolantTempC: 98 })
      .every(5, 5, 25, () => ({ coolantTempC: 108 }))
      .every(5, 30, 120, () => ({ coolantTempC: 96 }));
    expect(alertsOf('engine-overheat', feed)).toEqual([]);
  });

  it('keeps a gauge hovering around 105 °C one alert, cleared after 2 minutes at or below it', () => {
    const feed = new Feed()
      .at(0, { coolantTempC: 98 })
      .every(5, 5, 35, () => ({ coolantTempC: 106 }))
      .every(5, 40, 70, () => ({ coolantTempC: 104 }))
      .every(5, 75, 90, () => ({ coolantTempC: 106 }))
      .every(5, 95, 240, () => ({ coolantTempC: 90 }));
    // Below since 12:01:35 (second 95 of the feed): 2 minutes later is 12:03:35.
    expect(lifecycle(alertsOf('engine-overheat', feed))).toEqual([
      {
        ruleId: 'engine-overheat',
        status: 'active',
        startedAt: '2026-11-23T12:00:05.000Z',
        raisedAt: '2026-11-23T12:00:35.000Z',
      },
      {
        ruleId: 'engine-overheat',
        status: 'cleared',
        startedAt: '2026-11-23T12:00:05.000Z',
        raisedAt: '2026-11-23T12:00:35.000Z',
        clearedAt: '2026-11-23T12:03:35.000Z',
      },
    ]);
  });
});

describe('harsh-braking', () => {
  it('fires at 12 km/h lost per second, once per stop', () => {
    const feed = new Feed()
      .at(0, { speedKph: 60 })
      .at(1, { speedKph: 60 })
      .at(2, { speedKph: 48 })
      .at(3, { speedKph: 36 })
      .at(4, { speedKph: 24 })
      .at(5, { speedKph: 12 })
      .at(6, { speedKph: 0 })
      .at(7, { speedKph: 0 });
    const alerts = alertsOf('harsh-braking', feed);
    expect(lifecycle(alerts)).toEqual([
      {
        ruleId: 'harsh-braking',
        status: 'active',
        startedAt: '2026-11-23T12:00:02.000Z',
        raisedAt: '2026-11-23T12:00:02.000Z',
      },
      {
        ruleId: 'harsh-braking',
        status: 'cleared',
        startedAt: '2026-11-23T12:00:02.000Z',
        raisedAt: '2026-11-23T12:00:02.000Z',
        clearedAt: '2026-11-23T12:00:07.000Z',
      },
    ]);
    expect(alerts[0]!.message).toBe('van-7 braked harshly (12 km/h per second or more), now at 48 km/h');
  });

  it('stays quiet braking at 11.9 km/h per second', () => {
    const feed = new Feed()
      .at(0, { speedKph: 60 })
      .at(1, { speedKph: 48.1 })
      .at(2, { speedKph: 36.2 })
      .at(3, { speedKph: 24.3 })
      .at(4, { speedKph: 12.4 })
      .at(5, { speedKph: 0.5 })
      .at(6, { speedKph: 0 });
    expect(alertsOf('harsh-braking', feed)).toEqual([]);
  });

  it('measures per second of event time: 20 km/h lost between messages 2 s apart is not harsh', () => {
    const feed = new Feed()
      .at(0, { speedKph: 60 })
      .at(2, { speedKph: 40 })
      .at(4, { speedKph: 20 })
      .at(6, { speedKph: 0 });
    expect(alertsOf('harsh-braking', feed)).toEqual([]);
  });

  it('raises a second stop within the 1 minute cooldown not at all, and one after it', () => {
    const stop = (feed: Feed, from: number) =>
      feed
        .at(from, { speedKph: 50 })
        .at(from + 1, { speedKph: 35 })
        .at(from + 2, { speedKph: 30 });
    const feed = new Feed();
    stop(feed, 0);
    stop(feed, 30);
    stop(feed, 90);
    expect(
      lifecycle(alertsOf('harsh-braking', feed))
        .filter((alert) => alert.status === 'active')
        .map((alert) => alert.raisedAt),
    ).toEqual(['2026-11-23T12:00:01.000Z', '2026-11-23T12:01:31.000Z']);
  });
});

describe('harsh-acceleration', () => {
  it('fires at 10 km/h gained per second', () => {
    const feed = new Feed()
      .at(0, { speedKph: 0 })
      .at(1, { speedKph: 10 })
      .at(2, { speedKph: 19 })
      .at(3, { speedKph: 27 });
    expect(lifecycle(alertsOf('harsh-acceleration', feed))).toEqual([
      {
        ruleId: 'harsh-acceleration',
        status: 'active',
        startedAt: '2026-11-23T12:00:01.000Z',
        raisedAt: '2026-11-23T12:00:01.000Z',
      },
      {
        ruleId: 'harsh-acceleration',
        status: 'cleared',
        startedAt: '2026-11-23T12:00:01.000Z',
        raisedAt: '2026-11-23T12:00:01.000Z',
        clearedAt: '2026-11-23T12:00:02.000Z',
      },
    ]);
  });

  it('stays quiet accelerating at 9.9 km/h per second', () => {
    const feed = new Feed()
      .at(0, { speedKph: 0 })
      .at(1, { speedKph: 9.9 })
      .at(2, { speedKph: 19.8 })
      .at(3, { speedKph: 29.7 })
      .at(4, { speedKph: 39.6 });
    expect(alertsOf('harsh-acceleration', feed)).toEqual([]);
  });
});

describe('excessive-idling', () => {
  it('fires after 5 minutes standing still with the engine running', () => {
    const feed = new Feed()
      .at(0, { speedKph: 20, rpm: 1400 })
      .every(10, 10, 320, () => ({ speedKph: 0, rpm: 800 }));
    const alerts = alertsOf('excessive-idling', feed);
    expect(lifecycle(alerts)).toEqual([
      {
        ruleId: 'excessive-idling',
        status: 'active',
        startedAt: '2026-11-23T12:00:10.000Z',
        raisedAt: '2026-11-23T12:05:10.000Z',
      },
    ]);
    expect(alerts[0]!.message).toBe('van-7 has idled for 5 minutes (engine at 800 rpm, standing still)');
  });

  it('stays quiet when the vehicle drives off after 4 min 50 s of idling', () => {
    const feed = new Feed()
      .at(0, { speedKph: 20, rpm: 1400 })
      .every(10, 10, 290, () => ({ speedKph: 0, rpm: 800 }))
      .every(10, 300, 400, () => ({ speedKph: 8, rpm: 1200 }));
    expect(alertsOf('excessive-idling', feed)).toEqual([]);
  });

  it('stays quiet for a vehicle parked with the engine off', () => {
    const feed = new Feed().every(30, 0, 1200, () => ({ speedKph: 0, rpm: 0, ignition: false }));
    expect(alertsOf('excessive-idling', feed)).toEqual([]);
  });
});

describe('low-battery-engine-off', () => {
  const parked = { speedKph: 0, rpm: 0, ignition: false };

  it('fires when the battery has been below 11.8 V for 2 minutes with the engine off', () => {
    const volts = [12.3, 12.0, 11.7, 11.6, 11.6, 11.5, 11.5, 11.4];
    const feed = new Feed().every(30, 0, 210, (second) => ({ ...parked, batteryV: volts[second / 30] }));
    const alerts = alertsOf('low-battery-engine-off', feed);
    expect(lifecycle(alerts)).toEqual([
      {
        ruleId: 'low-battery-engine-off',
        status: 'active',
        startedAt: '2026-11-23T12:01:00.000Z',
        raisedAt: '2026-11-23T12:03:00.000Z',
      },
    ]);
    expect(alerts[0]!.message).toBe('van-7 battery at 11.5 V with the engine off: it may not start');
  });

  it('fires on ignition off when the sleeping engine computer reports no rpm', () => {
    const feed = new Feed().every(30, 0, 150, () => ({ speedKph: 0, ignition: false, batteryV: 11.6 }));
    expect(lifecycle(alertsOf('low-battery-engine-off', feed))).toEqual([
      {
        ruleId: 'low-battery-engine-off',
        status: 'active',
        startedAt: '2026-11-23T12:00:00.000Z',
        raisedAt: '2026-11-23T12:02:00.000Z',
      },
    ]);
  });

  it('stays quiet for a resting battery at 11.8 V for an hour', () => {
    const feed = new Feed().every(60, 0, 3600, () => ({ ...parked, batteryV: 11.8 }));
    expect(alertsOf('low-battery-engine-off', feed)).toEqual([]);
  });

  it('stays quiet through the voltage dip of cranking, and while the engine runs on a weak alternator', () => {
    const feed = new Feed()
      .at(0, { speedKph: 0, rpm: 0, ignition: true, batteryV: 12.4 })
      .at(1, { speedKph: 0, rpm: 0, ignition: true, batteryV: 10.1 })
      .at(2, { speedKph: 0, rpm: 250, ignition: true, batteryV: 10.4 })
      .at(3, { speedKph: 0, rpm: 1100, ignition: true, batteryV: 13.9 })
      .every(10, 10, 900, () => ({ speedKph: 50, rpm: 1800, ignition: true, batteryV: 11.5 }));
    expect(alertsOf('low-battery-engine-off', feed)).toEqual([]);
  });
});

describe('new-dtc', () => {
  it('fires on a trouble code on the dtc channel and clears with the next message', () => {
    const feed = new Feed()
      .at(0, { speedKph: 50, coolantTempC: 112 })
      .at(5, { channel: 'dtc', dtcs: ['P0217'] })
      .at(6, { speedKph: 48, coolantTempC: 112 });
    const alerts = alertsOf('new-dtc', feed);
    expect(lifecycle(alerts)).toEqual([
      {
        ruleId: 'new-dtc',
        status: 'active',
        startedAt: '2026-11-23T12:00:05.000Z',
        raisedAt: '2026-11-23T12:00:05.000Z',
      },
      {
        ruleId: 'new-dtc',
        status: 'cleared',
        startedAt: '2026-11-23T12:00:05.000Z',
        raisedAt: '2026-11-23T12:00:05.000Z',
        clearedAt: '2026-11-23T12:00:06.000Z',
      },
    ]);
    expect(alerts[0]!.message).toBe('van-7 reported diagnostic trouble codes P0217');
  });

  it('stays quiet for a dtc message with no codes (codes cleared) and for telemetry', () => {
    const feed = new Feed()
      .at(0, { speedKph: 50 })
      .at(5, { channel: 'dtc', dtcs: [] })
      .at(6, { channel: 'dtc' })
      .at(7, { speedKph: 50 });
    expect(alertsOf('new-dtc', feed)).toEqual([]);
  });

  it('reports a code the device sends again within the hour once, and again after the hour', () => {
    const feed = new Feed()
      .at(0, { channel: 'dtc', dtcs: ['P0301'] })
      .at(1, { speedKph: 30 })
      .at(600, { channel: 'dtc', dtcs: ['P0301'] })
      .at(601, { speedKph: 30 })
      .at(3600, { channel: 'dtc', dtcs: ['P0301'] });
    expect(
      lifecycle(alertsOf('new-dtc', feed))
        .filter((alert) => alert.status === 'active')
        .map((alert) => alert.raisedAt),
    ).toEqual(['2026-11-23T12:00:00.000Z', '2026-11-23T13:00:00.000Z']);
  });
});

describe('fuel-theft', () => {
  it('fires when the fuel level falls 5 % in minutes while parked for more than 10 minutes', () => {
    const fuel: Record<number, number> = { 930: 58.5, 960: 57, 990: 55.5 };
    const feed = new Feed().at(0, { speedKph: 25, fuelLevelPct: 60 }).every(30, 30, 1560, (second) => ({
      speedKph: 0,
      fuelLevelPct: second <= 900 ? 60 : (fuel[second] ?? 54),
    }));
    // At 12:17:00 the window holds the panes 12:08 to 12:17: first 60 % (12:08:00), last 54 %, no movement.
    // It clears when the 12:15 pane, the last to hold a 60 % reading, leaves the window: at 12:25:00 (57 % → 54 %).
    const alerts = alertsOf('fuel-theft', feed);
    expect(lifecycle(alerts)).toEqual([
      {
        ruleId: 'fuel-theft',
        status: 'active',
        startedAt: '2026-11-23T12:17:00.000Z',
        raisedAt: '2026-11-23T12:17:00.000Z',
      },
      {
        ruleId: 'fuel-theft',
        status: 'cleared',
        startedAt: '2026-11-23T12:17:00.000Z',
        raisedAt: '2026-11-23T12:17:00.000Z',
        clearedAt: '2026-11-23T12:25:00.000Z',
      },
    ]);
    expect(alerts[0]!.message).toBe(
      'van-7 fuel level fell by 5 % or more in 10 minutes while parked (now 54 %): possible fuel theft',
    );
  });

  it('reports a drop soon after parking only once the drive has left the 10-minute window', () => {
    const fuel: Record<number, number> = { 180: 58, 210: 56, 240: 54 };
    const feed = new Feed().at(0, { speedKph: 30, fuelLevelPct: 60 }).every(30, 30, 660, (second) => ({
      speedKph: 0,
      fuelLevelPct: second <= 150 ? 60 : (fuel[second] ?? 52),
    }));
    // Until 12:09:59 the window reaches back to the 12:00 pane with the drive in it; at 12:10:00 it starts at
    // 12:01 (60 %, parked).
    expect(lifecycle(alertsOf('fuel-theft', feed))).toEqual([
      {
        ruleId: 'fuel-theft',
        status: 'active',
        startedAt: '2026-11-23T12:10:00.000Z',
        raisedAt: '2026-11-23T12:10:00.000Z',
      },
    ]);
  });

  it('stays quiet for a 4.5 % drop while parked, a 6 % drop while driving, and refuelling', () => {
    const parkedSlowDrop = new Feed().every(30, 0, 1200, (second) => ({
      speedKph: 0,
      fuelLevelPct: second < 600 ? 60 : 55.5,
    }));
    const drivingDrop = new Feed().every(30, 0, 1200, (second) => ({
      speedKph: 90,
      fuelLevelPct: 60 - (6 * second) / 600,
    }));
    const refuelling = new Feed().every(30, 0, 1200, (second) => ({
      speedKph: 0,
      fuelLevelPct: second < 600 ? 20 : 95,
    }));
    expect(alertsOf('fuel-theft', parkedSlowDrop)).toEqual([]);
    expect(alertsOf('fuel-theft', drivingDrop)).toEqual([]);
    expect(alertsOf('fuel-theft', refuelling)).toEqual([]);
  });
});

describe('vehicle-offline', () => {
  it('fires when the clock passes 10 minutes after the last message, and clears when the vehicle returns', () => {
    const processor = processorFor('vehicle-offline');
    const feed = new Feed().every(10, 0, 60, () => ({ speedKph: 40 }));
    processor.process(feed.records);
    // The watermark is the clock less 5 s of allowed lateness; the alert is due at 12:01:00 + 10 min.
    expect(processor.advanceClock(t0 + 664_999, [0]).alerts).toEqual([]);
    const fired = processor.advanceClock(t0 + 665_000, [0]).alerts;
    expect(lifecycle(fired)).toEqual([
      {
        ruleId: 'vehicle-offline',
        status: 'active',
        startedAt: '2026-11-23T12:01:00.000Z',
        raisedAt: '2026-11-23T12:11:00.000Z',
      },
    ]);
    expect(fired[0]!.message).toBe(
      'van-7 has sent nothing for 10 minutes (last message at 2026-11-23T12:01:00.000Z)',
    );
    feed.at(1200, { speedKph: 0 });
    expect(lifecycle(processor.process(feed.records.slice(-1)).alerts)).toEqual([
      {
        ruleId: 'vehicle-offline',
        status: 'cleared',
        startedAt: '2026-11-23T12:01:00.000Z',
        raisedAt: '2026-11-23T12:11:00.000Z',
        clearedAt: '2026-11-23T12:20:00.000Z',
      },
    ]);
  });

  it('stays quiet for a vehicle silent for 9 min 50 s', () => {
    const processor = processorFor('vehicle-offline');
    const feed = new Feed().every(10, 0, 60, () => ({ speedKph: 40 })).at(650, { speedKph: 0 });
    processor.process(feed.records);
    expect(processor.advanceClock(t0 + 665_000, [0]).alerts).toEqual([]);
  });
});

describe('geofence-exit', () => {
  /** Leaving across one edge at 0.002° per 10 s: inside at 0, 10 and 20 s, outside from 30 s. */
  function crossing(edge: 'north' | 'south' | 'east' | 'west', vehicleId = 'sim-0001', fleetId = 'demo') {
    const [lat, lon, dLat, dLon] = {
      north: [53.995, 13.4, 0.002, 0],
      south: [51.005, 13.4, -0.002, 0],
      east: [52.3, 15.995, 0, 0.002],
      west: [52.3, 11.005, 0, -0.002],
    }[edge];
    const round = (value: number) => Math.round(value * 1e6) / 1e6;
    return new Feed(vehicleId, fleetId).every(10, 0, 70, (second) => ({
      speedKph: 60,
      position: { lat: round(lat + (dLat * second) / 10), lon: round(lon + (dLon * second) / 10) },
    }));
  }

  it.each(['north', 'south', 'east', 'west'] as const)(
    'fires when a demo vehicle has been outside the %s edge for 30 s',
    (edge) => {
      const alerts = alertsOf('geofence-exit', crossing(edge));
      expect(lifecycle(alerts)).toEqual([
        {
          ruleId: 'geofence-exit',
          status: 'active',
          startedAt: '2026-11-23T12:00:30.000Z',
          raisedAt: '2026-11-23T12:01:00.000Z',
        },
      ]);
      expect(alerts[0]!.fleetId).toBe('demo');
    },
  );

  it('stays quiet for a vehicle of another fleet, whose depot has its own area', () => {
    expect(alertsOf('geofence-exit', crossing('east', 'van-7', 'acme'))).toEqual([]);
  });

  it('stays quiet for one bad GNSS fix and for messages without a position', () => {
    const feed = new Feed('sim-0001', 'demo')
      .every(10, 0, 20, () => ({ position: { lat: 52.52, lon: 13.405 } }))
      .at(30, { position: { lat: 0, lon: 0 } })
      .every(10, 40, 120, (second) =>
        second % 20 === 0 ? { position: { lat: 52.52, lon: 13.41 } } : { speedKph: 30 },
      );
    expect(alertsOf('geofence-exit', feed)).toEqual([]);
  });
});
