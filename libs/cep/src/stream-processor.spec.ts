import {
  decodeTelemetryRecord,
  encodeTelemetryRecord,
  type AlertMessage,
  type TelemetryRecord,
} from '@fleetlog/contracts';
import { datasetNames } from '@fleetlog/elasticsearch';
import type { ConsumedRecord } from '@fleetlog/kafka';
import { validateRule, type Rule } from '@fleetlog/rules';
import { decodeCheckpoint } from './checkpoint';
import { StreamProcessor, type ProcessedBatch, type StreamProcessorOptions } from './stream-processor';

const t0 = Date.parse('2026-11-23T12:00:00Z');
const indices = datasetNames('test', 'v1');
const options: StreamProcessorOptions = {
  jobVersion: 'v1',
  documents: 'derived',
  indices,
  allowedLatenessMs: 5_000,
  aggregateWindowMs: 60_000,
  maxRebuildMs: 3_600_000,
  maxAggregatesPerCall: Infinity,
};

function rule(document: Record<string, unknown>): Rule {
  const validation = validateRule({
    version: 1,
    name: 'n',
    severity: 'warning',
    message: '{{vehicleId}}',
    ...document,
  });
  if (!validation.valid) throw new Error(JSON.stringify(validation.problems));
  return validation.rule;
}

const overspeed = rule({
  id: 'overspeed',
  conditions: { all: [{ fact: 'speedKph', operator: 'greaterThan', value: 120 }] },
  for: '3s',
});
const offline = rule({ id: 'offline', absence: '60s' });
const hardBraking = rule({
  id: 'hard-braking',
  conditions: {
    all: [{ fact: 'rate', params: { field: 'speedKph' }, operator: 'lessThanInclusive', value: -12 }],
  },
});
const fastAverage = rule({
  id: 'fast-average',
  conditions: {
    all: [
      {
        fact: 'window',
        params: { fn: 'avg', field: 'speedKph', size: '10s' },
        operator: 'greaterThan',
        value: 100,
      },
    ],
  },
});

/** A log of records for one partition: what cep would consume. */
class Log {
  readonly records: ConsumedRecord[] = [];

  add(second: number, readings: Partial<TelemetryRecord> = {}, vehicleId = 'truck-1'): this {
    const value: TelemetryRecord = {
      vehicleId,
      fleetId: 'acme',
      ts: new Date(t0 + second * 1000).toISOString(),
      channel: 'telemetry',
      receivedAt: new Date(t0 + second * 1000).toISOString(),
      ...readings,
    };
    this.records.push({
      topic: 'fleet.telemetry',
      partition: 0,
      offset: String(this.records.length),
      key: vehicleId,
      value: encodeTelemetryRecord(value),
    });
    return this;
  }

  drive(fromSecond: number, speeds: number[], vehicleId?: string): this {
    speeds.forEach((speedKph, index) => this.add(fromSecond + index, { speedKph, rpm: 2000 }, vehicleId));
    return this;
  }
}

const activeAlerts = (batch: ProcessedBatch) =>
  batch.alerts.map((alert) => `${alert.ruleId} ${alert.status} ${alert.raisedAt.slice(11, 19)}`);

describe('StreamProcessor', () => {
  it('raises and clears alerts from records, with an id fixed by rule, vehicle and start', () => {
    const processor = new StreamProcessor([overspeed], options);
    const batch = processor.process(new Log().drive(0, [100, 130, 130, 130, 130, 100]).records);
    expect(activeAlerts(batch)).toEqual(['overspeed active 12:00:04', 'overspeed cleared 12:00:04']);
    expect(batch.alerts[1]!.clearedAt).toBe('2026-11-23T12:00:05.000Z');
    expect(batch.writes.filter((write) => write.index === indices.alerts.index)).toHaveLength(2);
    // Raw telemetry is the telemetry indexer's to store, not a job's.
    expect(batch.writes.filter((write) => write.index === indices.telemetry.index)).toEqual([]);
  });

  it('reads the JSON records the log holds from before the binary format like binary ones', () => {
    const binary = new Log().drive(0, [100, 130, 130, 130, 130, 100]).records;
    // Every other record as the gateway wrote it until format 1: the record's JSON.
    const mixed = binary.map((record, index) =>
      index % 2 === 0
        ? record
        : { ...record, value: Buffer.from(JSON.stringify(decodeTelemetryRecord(record.value))) },
    );
    expect(mixed[1]!.value.toString()).toMatch(/^\{"vehicleId":"truck-1"/);
    const fromMixed = new StreamProcessor([overspeed], options).process(mixed);
    expect(fromMixed.unreadable).toEqual([]);
    expect(fromMixed.alerts).toEqual(new StreamProcessor([overspeed], options).process(binary).alerts);
  });

  it('as the telemetry indexer, stores every record as a document and derives no alerts or aggregates', () => {
    const indexer = new StreamProcessor([], { ...options, documents: 'telemetry' });
    const batch = indexer.process(new Log().drive(0, [100, 130]).drive(70, [0]).records);
    expect(batch.writes.map((write) => [write.index, write.id, write.action])).toEqual([
      [indices.telemetry.index, '0-0', 'create'],
      [indices.telemetry.index, '0-1', 'create'],
      [indices.telemetry.index, '0-2', 'create'],
    ]);
    expect(batch.writes[1]!.document).toMatchObject({
      '@timestamp': '2026-11-23T12:00:01.000Z',
      speedKph: 130,
      secondsSinceLastMessage: 1,
      kafkaOffset: '1',
    });
  });

  it('stamps each transition with its job and the log position that decided it', () => {
    const processor = new StreamProcessor([overspeed, offline], options);
    const batch = processor.process(new Log().drive(0, [100, 130, 130, 130, 130, 100]).records);
    expect(
      batch.alerts.map((alert) => [alert.ruleId, alert.status, alert.jobVersion, alert.decidedAt]),
    ).toEqual([
      ['overspeed', 'active', 'v1', { topic: 'fleet.telemetry', partition: 0, offset: '4' }],
      ['overspeed', 'cleared', 'v1', { topic: 'fleet.telemetry', partition: 0, offset: '5' }],
    ]);
    // A timer fires after the last record read: at the next offset.
    const fired = processor.advanceClock(t0 + 70_000, [0]).alerts;
    expect(fired.map((alert) => [alert.ruleId, alert.decidedAt?.offset])).toEqual([['offline', '6']]);
  });

  it('computes rate and window facts per vehicle from earlier messages', () => {
    const processor = new StreamProcessor([hardBraking, fastAverage], options);
    const batch = processor.process(
      new Log().drive(0, [90, 110, 130, 115]).drive(0, [50, 50, 50, 50], 'van-2').records,
    );
    expect(
      batch.alerts
        .filter((alert) => alert.status === 'active')
        .map((alert) => [alert.ruleId, alert.vehicleId, alert.raisedAt]),
    ).toEqual([
      ['fast-average', 'truck-1', '2026-11-23T12:00:02.000Z'],
      ['hard-braking', 'truck-1', '2026-11-23T12:00:03.000Z'],
    ]);
  });

  it('keeps with an alert the message and the derived facts its rule reads, not every window of the rule set', () => {
    const processor = new StreamProcessor([hardBraking, fastAverage], options);
    const raised = processor
      .process(new Log().drive(0, [90, 110, 130, 115]).records)
      .alerts.find((alert) => alert.ruleId === 'hard-braking')!;
    expect(raised.facts).toMatchObject({ vehicleId: 'truck-1', speedKph: 115, 'rate:speedKph': -15 });
    expect(Object.keys(raised.facts).filter((key) => key.startsWith('window:'))).toEqual([]);
  });

  it('indexes a message older than the watermark as late and keeps it out of the rules', () => {
    const processor = new StreamProcessor([overspeed], { ...options, documents: 'telemetry' });
    const batch = processor.process(
      new Log().drive(0, [100, 100]).drive(20, [100]).add(10, { speedKph: 200 }).records,
    );
    expect(batch.late).toBe(1);
    const late = batch.writes.find((write) => (write.document as { late?: boolean }).late);
    expect(late?.id).toBe('0-3');
    expect(batch.alerts).toEqual([]);
  });

  it('feeds an out-of-order message within lateness to the windows but not to the rule clock', () => {
    const processor = new StreamProcessor([fastAverage], options);
    const batch = processor.process(
      new Log().drive(0, [90, 90]).add(5, { speedKph: 100 }).add(4, { speedKph: 300 }).records,
    );
    expect(batch.late).toBe(0);
    expect(batch.alerts).toEqual([]);
    const next = processor.process(new Log().drive(0, [0, 0, 0, 0, 0, 0]).records.slice(5));
    expect(activeAlerts(next)).toEqual(['fast-average active 12:00:05']);
  });

  it('fires an absence alert when the clock passes a silent vehicle deadline, once', () => {
    const processor = new StreamProcessor([offline], options);
    processor.process(new Log().drive(0, [50, 50, 50]).records);
    expect(processor.advanceClock(t0 + 66_000, [0]).alerts).toEqual([]);
    const fired = processor.advanceClock(t0 + 67_000, [0]);
    expect(activeAlerts(fired)).toEqual(['offline active 12:01:02']);
    // The evidence is the last message before the silence.
    expect(fired.alerts[0]!.lineage).toEqual([{ topic: 'fleet.telemetry', partition: 0, offset: '2' }]);
    expect(processor.advanceClock(t0 + 200_000, [0]).alerts).toEqual([]);
  });

  it('keeps absence timers finite when a cooldown outlasts the span and the vehicle falls silent again', () => {
    const processor = new StreamProcessor(
      [rule({ id: 'offline', absence: '60s', cooldown: '10m' })],
      options,
    );
    processor.process(new Log().drive(0, [50]).records);
    expect(activeAlerts(processor.advanceClock(t0 + 70_000, [0]))).toEqual(['offline active 12:01:00']);
    processor.process(new Log().drive(0, [50]).drive(80, [50]).records.slice(1));
    expect(processor.advanceClock(t0 + 200_000, [0]).alerts).toEqual([]);
    expect(activeAlerts(processor.advanceClock(t0 + 700_000, [0]))).toEqual(['offline active 12:11:00']);
  });

  it('does not let the clock move partitions the caller says are still catching up', () => {
    const processor = new StreamProcessor([offline], options);
    processor.process(new Log().drive(0, [50]).records);
    expect(processor.advanceClock(t0 + 600_000, []).alerts).toEqual([]);
  });

  it('writes one aggregate per vehicle and closed minute with distance, idling and harsh events', () => {
    const processor = new StreamProcessor([], options);
    const log = new Log();
    for (let second = 0; second < 30; second++)
      log.add(second, { speedKph: 72, rpm: 2000, coolantTempC: 90 });
    for (let second = 30; second < 40; second++) log.add(second, { speedKph: 0, rpm: 800 });
    log.add(59, { speedKph: 0, rpm: 800 }).add(70, { speedKph: 0, rpm: 800 });
    const batch = processor.process(log.records);
    const aggregates = batch.writes.filter((write) => write.index === indices.aggregates.index);
    expect(aggregates).toHaveLength(1);
    expect(aggregates[0]!.id).toBe('acme/truck-1/2026-11-23T12:00:00.000Z');
    expect(aggregates[0]!.document).toMatchObject({
      messages: 41,
      maxSpeedKph: 72,
      maxCoolantTempC: 90,
      // 29 s at 72 km/h plus the 1 s ramp to 0 (trapezoid): 0.58 + 0.01 km
      distanceKm: 0.59,
      // Engine turning at zero speed from 00:30 to 00:59
      idleSeconds: 29,
      harshEvents: 1,
    });
  });

  it('closes each vehicle’s minutes as the watermark passes their end, whichever vehicle opened them', () => {
    const processor = new StreamProcessor([], options);
    const closed = (batch: ProcessedBatch) =>
      batch.writes.filter((write) => write.index === indices.aggregates.index).map((write) => write.id);
    const log = new Log()
      .add(10, { speedKph: 10 }, 'truck-1')
      .add(70, { speedKph: 20 }, 'truck-2')
      .add(80, { speedKph: 30 }, 'truck-1');
    // Lateness is 5 s: the watermark reaches the end of minute 0 at 01:05, of minute 1 at 02:05.
    expect(closed(processor.process(log.records))).toEqual(['acme/truck-1/2026-11-23T12:00:00.000Z']);
    const later = new Log().add(124, {}, 'truck-3').add(125, {}, 'truck-3');
    later.records.forEach((record, index) => (record.offset = String(3 + index)));
    expect(closed(processor.process(later.records.slice(0, 1)))).toEqual([]);
    expect(closed(processor.process(later.records.slice(1)))).toEqual([
      'acme/truck-1/2026-11-23T12:01:00.000Z',
      'acme/truck-2/2026-11-23T12:01:00.000Z',
    ]);
    expect(closed(processor.advanceClock(t0 + 185_000, [0]))).toEqual([
      'acme/truck-3/2026-11-23T12:02:00.000Z',
    ]);
  });

  describe('with at most a few aggregate documents per call', () => {
    const capped = { ...options, maxAggregatesPerCall: 2 };
    /** Four vehicles reporting every 25 s for three minutes, in one partition, then the clock. */
    const fleetLog = () => {
      const log = new Log();
      for (let second = 5; second < 180; second += 25) {
        for (const vehicleId of ['truck-1', 'truck-2', 'truck-3', 'truck-4']) log.add(second, {}, vehicleId);
      }
      return log;
    };
    const aggregatesOf = (batch: ProcessedBatch) =>
      batch.writes.filter((write) => write.index === indices.aggregates.index);
    const byId = (batches: ProcessedBatch[]) =>
      new Map(batches.flatMap(aggregatesOf).map((write) => [write.id, write.document]));
    const uninterrupted = () => {
      const processor = new StreamProcessor([], options);
      return byId([processor.process(fleetLog().records), processor.advanceClock(t0 + 300_000, [0])]);
    };

    it('writes each ended window once, spread over the calls that follow its end', () => {
      const processor = new StreamProcessor([], capped);
      const batches = fleetLog().records.map((record) => processor.process([record]));
      batches.push(processor.advanceClock(t0 + 300_000, [0]), processor.advanceClock(t0 + 301_000, [0]));

      expect(Math.max(...batches.map((batch) => aggregatesOf(batch).length))).toBe(2);
      // Also where a record does not move the watermark: the second vehicle's message of the same second.
      const pastFirstEnd = fleetLog().records.findIndex((record) => record.value.includes('12:01:20'));
      const firstMinute = batches
        .slice(pastFirstEnd, pastFirstEnd + 2)
        .flatMap(aggregatesOf)
        .filter((write) => write.id.endsWith('12:00:00.000Z'));
      expect(firstMinute).toHaveLength(4);
      const written = batches.flatMap(aggregatesOf).map((write) => write.id);
      expect(new Set(written).size).toBe(written.length);
      expect(byId(batches)).toEqual(uninterrupted());
      expect(byId(batches).size).toBe(12);
    });

    it('leaves a new owner the windows not yet written at the checkpoint, and only those', () => {
      const records = fleetLog().records;
      const first = new StreamProcessor([], capped);
      // 12:02:10 (truck-1), the first record past the end of the second minute plus lateness: two of the four
      // windows ending at 12:02:00 are written with it, two wait.
      const split = records.findIndex((record) => record.value.includes('12:02:10')) + 1;
      const before = records.slice(0, split).map((record) => first.process([record]));
      const metadata = first.checkpoint(0)!;
      const checkpoint = decodeCheckpoint(metadata)!;
      expect(checkpoint.aggregatesThrough).toBeLessThan(checkpoint.watermark);

      const second = new StreamProcessor([], capped);
      const rebuildFrom = Number(second.assign(0, String(split), metadata));
      const after = records.slice(rebuildFrom).map((record) => second.process([record]));
      after.push(second.advanceClock(t0 + 300_000, [0]), second.advanceClock(t0 + 301_000, [0]));

      const expected = uninterrupted();
      const rewritten = byId(after);
      // Windows of the first minute were all written before the checkpoint: not again.
      expect([...rewritten.keys()].filter((id) => id.endsWith('12:00:00.000Z'))).toEqual([]);
      for (const [id, document] of rewritten) expect(document).toEqual(expected.get(id));
      expect(new Map([...byId(before), ...rewritten])).toEqual(expected);
    });

    it('re-reads from the start of the oldest window still waiting, however far the watermark has gone', () => {
      const records = fleetLog().records;
      const first = new StreamProcessor([], { ...options, maxAggregatesPerCall: 1 });
      // One call up to 12:02:35: the watermark passes two window ends, one window of the eight is written.
      const before = [first.process(records)];
      expect(aggregatesOf(before[0]!)).toHaveLength(1);
      const metadata = first.checkpoint(0)!;

      const second = new StreamProcessor([], options);
      const rebuildFrom = Number(second.assign(0, String(records.length), metadata));
      expect(rebuildFrom).toBe(0);
      const after = [second.process(records.slice(rebuildFrom)), second.advanceClock(t0 + 300_000, [0])];
      expect(new Map([...byId(before), ...byId(after)])).toEqual(uninterrupted());
    });
  });

  it('rebuilds from its checkpoint after a restart and repeats no alert and misses none', () => {
    const log = new Log();
    log.drive(0, [100, 130, 130, 130, 130, 130, 130, 100]);
    log.drive(8, [130, 130, 130]);
    log.drive(11, [130, 130, 90]);
    const uninterrupted = new StreamProcessor([overspeed, hardBraking], options).process(log.records).alerts;

    const first = new StreamProcessor([overspeed, hardBraking], options);
    const split = 10;
    const before = first.process(log.records.slice(0, split)).alerts;
    const metadata = first.checkpoint(0)!;
    const checkpoint = decodeCheckpoint(metadata)!;

    const second = new StreamProcessor([overspeed, hardBraking], options);
    const rebuildFrom = second.assign(0, String(split), metadata);
    expect(rebuildFrom).toBe(checkpoint.rebuildFrom);
    const after = second.process(log.records.slice(Number(rebuildFrom))).alerts;

    const ids = (alerts: AlertMessage[]) => alerts.map((alert) => `${alert.alertId} ${alert.status}`);
    expect(ids([...before, ...after])).toEqual(ids(uninterrupted));
  });

  it('rebuilds an active alert that began long before the lookback, keeping its id', () => {
    const log = new Log().drive(
      0,
      Array.from({ length: 100 }, () => 130),
    );
    const first = new StreamProcessor([overspeed], options);
    const raised = first.process(log.records.slice(0, 90)).alerts;
    expect([first.vehicleCount, first.activeAlertCount]).toEqual([1, 1]);
    const metadata = first.checkpoint(0)!;
    expect(decodeCheckpoint(metadata)!.rebuildFrom).toBe('0');
    log.drive(100, [90]);
    const second = new StreamProcessor([overspeed], options);
    const after = second.process(log.records.slice(Number(second.assign(0, '90', metadata)))).alerts;
    expect(after.map((alert) => [alert.status, alert.alertId])).toEqual([['cleared', raised[0]!.alertId]]);
    expect(second.activeAlertCount).toBe(0);
  });

  it('does not fire again after a restart a timer that fired before the checkpoint', () => {
    const first = new StreamProcessor([offline], options);
    const log = new Log().drive(0, [50]);
    first.process(log.records);
    expect(first.advanceClock(t0 + 70_000, [0]).alerts).toHaveLength(1);
    const second = new StreamProcessor([offline], options);
    second.process(log.records.slice(Number(second.assign(0, '1', first.checkpoint(0)!))));
    expect(second.advanceClock(t0 + 80_000, [0]).alerts).toEqual([]);
  });

  it('forgets a vehicle silent for longer than the lookback, also while its partition is still catching up', () => {
    const processor = new StreamProcessor([overspeed], options);
    processor.process(new Log().drive(0, [50]).drive(0, [50], 'van-2').records);
    expect(processor.vehicleCount).toBe(2);
    const lookbackSeconds = processor.lookbackMs / 1000;
    const busy = new Log();
    for (let second = 1; second < lookbackSeconds + 130; second += 10) busy.add(second, { speedKph: 60 });
    processor.process(busy.records);
    expect(processor.vehicleCount).toBe(1);
  });

  describe('updateRules', () => {
    it('applies a rule added while running to the next message, without a restart', () => {
      const processor = new StreamProcessor([offline], options);
      const log = new Log().drive(0, [130, 130, 130]).drive(3, [130, 130, 130, 130]);
      expect(processor.process(log.records.slice(0, 3)).alerts).toEqual([]);
      expect(processor.updateRules([offline, overspeed]).alerts).toEqual([]);
      expect(activeAlerts(processor.process(log.records.slice(3)))).toEqual(['overspeed active 12:00:06']);
    });

    it('keeps what an unchanged rule was holding when another rule changes', () => {
      const processor = new StreamProcessor([overspeed], options);
      const log = new Log().drive(0, [130, 130, 130, 130]);
      processor.process(log.records.slice(0, 2));
      processor.updateRules([overspeed, offline]);
      // Held since 12:00:00, so the 3 s are complete at 12:00:03, as if nothing had changed.
      expect(activeAlerts(processor.process(log.records.slice(2)))).toEqual(['overspeed active 12:00:03']);
    });

    it('clears an alert raised by a version that was replaced, and judges afresh with the new one', () => {
      const processor = new StreamProcessor([overspeed], options);
      const log = new Log().drive(0, [130, 130, 130, 130, 130, 130, 130, 130]);
      const raised = processor.process(log.records.slice(0, 4)).alerts[0]!;
      const stricter = { ...overspeed, version: 2, for: '2s' };
      const update = processor.updateRules([stricter]);
      expect(update.alerts).toEqual([
        expect.objectContaining({
          alertId: raised.alertId,
          ruleVersion: 1,
          status: 'cleared',
          clearedAt: '2026-11-23T12:00:03.000Z',
        }),
      ]);
      expect(update.writes.map((write) => write.id)).toEqual([raised.alertId]);
      const after = processor.process(log.records.slice(4)).alerts;
      expect(after.map((alert) => [alert.ruleVersion, alert.status, alert.startedAt])).toEqual([
        [2, 'active', '2026-11-23T12:00:04.000Z'],
      ]);
    });

    it('clears the alerts of a rule that was deleted or disabled', () => {
      const processor = new StreamProcessor([overspeed], options);
      processor.process(new Log().drive(0, [130, 130, 130, 130]).records);
      expect(activeAlerts(processor.updateRules([{ ...overspeed, enabled: false }]))).toEqual([
        'overspeed cleared 12:00:03',
      ]);
      expect(processor.updateRules([]).alerts).toEqual([]);
    });

    it('lets a new rule read a window the vehicle already kept, and starts a window it did not', () => {
      const processor = new StreamProcessor([fastAverage], options);
      const log = new Log().drive(0, [150, 150, 150, 20]);
      processor.process(log.records.slice(0, 3));
      const averageOver = (fn: string, version: number) =>
        rule({
          id: 'fast-average',
          version,
          conditions: {
            all: [
              {
                fact: 'window',
                params: { fn, field: 'speedKph', size: '10s' },
                operator: 'greaterThan',
                value: 100,
              },
            ],
          },
        });
      // The same window (avg of speedKph over 10 s): 150, 150, 150, 20 average 117.5, above 100.
      processor.updateRules([averageOver('avg', 2)]);
      expect(activeAlerts(processor.process(log.records.slice(3)))).toEqual(['fast-average active 12:00:03']);
      // A window with other functions is a new window: it starts with the next reading alone.
      const fresh = new StreamProcessor([fastAverage], options);
      fresh.process(log.records.slice(0, 3));
      fresh.updateRules([averageOver('max', 2)]);
      expect(fresh.process(log.records.slice(3)).alerts).toEqual([]);
    });

    it('moves an absence deadline to the new span', () => {
      const processor = new StreamProcessor([offline], options);
      processor.process(new Log().drive(0, [50]).records);
      processor.updateRules([{ ...offline, version: 2, absence: '20s' }]);
      expect(activeAlerts(processor.advanceClock(t0 + 25_000, [0]))).toEqual(['offline active 12:00:20']);
      expect(processor.advanceClock(t0 + 120_000, [0]).alerts).toEqual([]);
    });
  });

  describe('retag', () => {
    const reeferOverspeed = { ...overspeed, scope: { tags: ['reefer'] } };
    const reeferOffline = { ...offline, scope: { tags: ['reefer'] } };
    const truck1 = { fleetId: 'acme', vehicleId: 'truck-1' };

    /** A processor reading its tags from a table the test changes, as cep's does from fleet.vehicles. */
    const tagged = (rules: Rule[], tags: Record<string, string[]>) => {
      const processor = new StreamProcessor(rules, {
        ...options,
        vehicleTags: (fleetId, vehicleId) => tags[`${fleetId}/${vehicleId}`] ?? [],
      });
      return { processor, tags };
    };

    it('evaluates a tag-scoped rule only for the vehicles carrying the tag', () => {
      const { processor } = tagged([reeferOverspeed], { 'acme/truck-1': ['reefer'] });
      const log = new Log().drive(0, [130, 130, 130, 130]).drive(0, [130, 130, 130, 130], 'truck-2');
      expect(processor.process(log.records).alerts.map((alert) => alert.vehicleId)).toEqual(['truck-1']);
    });

    it('applies a tag given while running to the next message, and clears what a removed tag had raised', () => {
      const { processor, tags } = tagged([reeferOverspeed], {});
      const log = new Log().drive(0, [130, 130, 130, 130, 130, 130, 130, 130, 130]);
      expect(processor.process(log.records.slice(0, 2)).alerts).toEqual([]);
      tags['acme/truck-1'] = ['reefer'];
      expect(processor.retag([truck1]).alerts).toEqual([]);
      // The rule applies from 12:00:02 on, so it has held for 3 s at 12:00:05.
      expect(activeAlerts(processor.process(log.records.slice(2, 6)))).toEqual(['overspeed active 12:00:05']);
      delete tags['acme/truck-1'];
      const cleared = processor.retag([truck1]);
      expect(cleared.alerts).toEqual([
        expect.objectContaining({ status: 'cleared', clearedAt: '2026-11-23T12:00:05.000Z' }),
      ]);
      expect(cleared.writes.map((write) => write.id)).toEqual([cleared.alerts[0]!.alertId]);
      expect(processor.process(log.records.slice(6)).alerts).toEqual([]);
    });

    it('starts and stops a tag-scoped absence timer with the tag', () => {
      const { processor, tags } = tagged([reeferOffline], {});
      processor.process(new Log().drive(0, [50]).records);
      tags['acme/truck-1'] = ['reefer'];
      processor.retag([truck1]);
      expect(activeAlerts(processor.advanceClock(t0 + 70_000, [0]))).toEqual(['offline active 12:01:00']);
      tags['acme/truck-1'] = [];
      expect(activeAlerts(processor.retag([truck1]))).toEqual(['offline cleared 12:01:00']);
      expect(processor.advanceClock(t0 + 600_000, [0]).alerts).toEqual([]);
    });

    it('leaves alone a vehicle it has not seen: its tags are read with its first message', () => {
      const { processor, tags } = tagged([reeferOverspeed], {});
      tags['acme/truck-9'] = ['reefer'];
      expect(processor.retag([{ fleetId: 'acme', vehicleId: 'truck-9' }])).toEqual(processor.retag([truck1]));
      expect(processor.vehicleCount).toBe(0);
      const log = new Log().drive(0, [130, 130, 130, 130], 'truck-9');
      expect(activeAlerts(processor.process(log.records))).toEqual(['overspeed active 12:00:03']);
    });
  });

  it('stores and counts a message the device sent again once, in documents, windows, aggregates and rules', () => {
    const log = new Log();
    for (const [second, speedKph] of [
      [0, 100],
      [1, 100],
      [2, 100],
      [3, 130],
      [3, 130],
    ] as const) {
      log.add(second, { speedKph, rpm: 2000, seq: second });
    }
    const indexer = new StreamProcessor([], { ...options, documents: 'telemetry' });
    const indexed = indexer.process(log.records);
    expect(indexed.duplicates).toBe(1);
    expect(indexed.writes.map((write) => write.id)).toEqual(['0-0', '0-1', '0-2', '0-3']);
    // The 10 s average is 107.5 over the four messages; counting 130 twice would make it 112, above 110.
    const averageAbove110 = rule({
      id: 'average-above-110',
      conditions: {
        all: [
          {
            fact: 'window',
            params: { fn: 'avg', field: 'speedKph', size: '10s' },
            operator: 'greaterThan',
            value: 110,
          },
        ],
      },
    });
    const processor = new StreamProcessor([averageAbove110], options);
    const batch = processor.process(log.records);
    expect(batch.duplicates).toBe(1);
    expect(batch.alerts).toEqual([]);
    const closed = processor.advanceClock(t0 + 120_000, [0]);
    expect(closed.writes.map((write) => (write.document as { messages: number }).messages)).toEqual([4]);
  });

  it('reports records it cannot read instead of failing the batch', () => {
    const processor = new StreamProcessor([overspeed], options);
    const garbage = { topic: 't', partition: 0, offset: '0', key: undefined, value: Buffer.from('{') };
    expect(processor.process([garbage]).unreadable).toEqual([garbage]);
  });
});
