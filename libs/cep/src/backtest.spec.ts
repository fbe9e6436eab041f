import { encodeTelemetryRecord, type AlertMessage, type TelemetryRecord } from '@fleetlog/contracts';
import type { ConsumedRecord } from '@fleetlog/kafka';
import { validateRule, type Rule } from '@fleetlog/rules';
import { Backtest, compareAlerts } from './backtest';

const t0 = Date.parse('2026-11-23T12:00:00Z');
const at = (second: number) => new Date(t0 + second * 1000).toISOString();

function overspeed(threshold: number, version: number): Rule {
  const validation = validateRule({
    id: 'overspeed',
    version,
    name: 'Overspeed',
    severity: 'warning',
    conditions: { all: [{ fact: 'speedKph', operator: 'greaterThan', value: threshold }] },
    message: '{{vehicleId}} at {{speedKph}}',
  });
  if (!validation.valid) throw new Error(JSON.stringify(validation.problems));
  return validation.rule;
}

const offline = (() => {
  const validation = validateRule({
    id: 'offline',
    version: 1,
    name: 'Offline',
    severity: 'critical',
    absence: '60s',
    message: '{{vehicleId}} silent',
  });
  if (!validation.valid) throw new Error(JSON.stringify(validation.problems));
  return validation.rule;
})();

/** One record per second per vehicle, each vehicle on its own partition as the gateway's key would put it. */
function drive(speedsByVehicle: Record<string, number[]>): ConsumedRecord[] {
  return Object.entries(speedsByVehicle).flatMap(([vehicleId, speeds], partition) =>
    speeds.map((speedKph, second) => {
      const value: TelemetryRecord = {
        vehicleId,
        fleetId: 'acme',
        ts: at(second),
        channel: 'telemetry',
        receivedAt: at(second),
        speedKph,
      };
      return {
        topic: 'fleet.telemetry',
        partition,
        offset: String(second),
        key: vehicleId,
        value: encodeTelemetryRecord(value),
      };
    }),
  );
}

const options = { allowedLatenessMs: 5_000, vehicleTags: () => [] };

function alert(overrides: Partial<AlertMessage>): AlertMessage {
  return {
    alertId: 'a',
    status: 'active',
    ruleId: 'overspeed',
    ruleVersion: 1,
    ruleName: 'Overspeed',
    severity: 'warning',
    vehicleId: 'truck-1',
    fleetId: 'acme',
    message: 'm',
    startedAt: at(0),
    raisedAt: at(0),
    facts: {},
    lineage: [],
    ...overrides,
  };
}

describe('Backtest', () => {
  it('reports each alert the rules would have raised once, in its final state', () => {
    const backtest = new Backtest([overspeed(100, 2)], options);
    backtest.feed(drive({ 'truck-1': [90, 110, 130, 80], 'truck-2': [95, 99] }));
    const alerts = backtest.finish(t0 + 10_000);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({
      vehicleId: 'truck-1',
      ruleVersion: 2,
      status: 'cleared',
      startedAt: at(1),
      clearedAt: at(3),
      message: 'truck-1 at 110',
    });
  });

  it('judges a tag-scoped rule by the vehicles’ tags, as cep does', () => {
    const reefers = { ...overspeed(100, 1), scope: { tags: ['reefer'] } };
    const backtest = new Backtest([reefers], {
      ...options,
      vehicleTags: (_fleetId, vehicleId) => (vehicleId === 'truck-2' ? ['reefer'] : []),
    });
    backtest.feed(drive({ 'truck-1': [130, 130], 'truck-2': [130, 130] }));
    expect(backtest.finish(t0 + 10_000).map((alert) => alert.vehicleId)).toEqual(['truck-2']);
  });

  it('gives the same alerts whether the records come in one chunk or many', () => {
    const records = drive({ 'truck-1': [110, 90, 120, 95, 130], 'truck-2': [130, 130, 90] });
    const whole = new Backtest([overspeed(100, 1)], options);
    whole.feed(records);
    const chunked = new Backtest([overspeed(100, 1)], options);
    for (let start = 0; start < records.length; start += 3) chunked.feed(records.slice(start, start + 3));
    expect(chunked.finish(t0 + 10_000)).toEqual(whole.finish(t0 + 10_000));
  });

  it('raises an absence alert for a vehicle silent at the end of the range, but not one due after it', () => {
    const records = drive({ 'truck-1': [50, 50] });
    const within = new Backtest([offline], options);
    within.feed(records);
    expect(within.finish(t0 + 120_000)).toEqual([
      expect.objectContaining({ ruleId: 'offline', vehicleId: 'truck-1', status: 'active' }),
    ]);
    const tooSoon = new Backtest([offline], options);
    tooSoon.feed(records);
    expect(tooSoon.finish(t0 + 30_000)).toEqual([]);
  });
});

describe('compareAlerts', () => {
  it('matches alerts by vehicle and start, not by id, which carries the rule version', () => {
    const baseline = [alert({ alertId: 'v1-a', ruleVersion: 1 })];
    const candidate = [alert({ alertId: 'v2-a', ruleVersion: 2 })];
    expect(compareAlerts(baseline, candidate)).toEqual({ added: [], removed: [], changed: [], unchanged: 1 });
  });

  it('lists alerts only the candidate raises as added and only the baseline raises as removed', () => {
    const earlier = alert({ startedAt: at(1) });
    const later = alert({ startedAt: at(2) });
    const otherVehicle = alert({ vehicleId: 'truck-2', startedAt: at(1) });
    expect(compareAlerts([later], [earlier, otherVehicle])).toEqual({
      added: [earlier, otherVehicle],
      removed: [later],
      changed: [],
      unchanged: 0,
    });
  });

  it('names the fields of a matched alert that differ', () => {
    const before = alert({ status: 'active', message: 'at 110' });
    const after = alert({ status: 'cleared', clearedAt: at(5), message: 'at 110' });
    expect(compareAlerts([before], [after]).changed).toEqual([
      { before, after, fields: ['status', 'clearedAt'] },
    ]);
  });
});

describe('Backtest and compareAlerts together', () => {
  it('shows what lowering a threshold adds, removes and keeps', () => {
    const records = drive({ 'truck-1': [90, 110, 130, 80], 'truck-2': [130, 90], 'truck-3': [105, 90] });
    const current = new Backtest([overspeed(120, 1)], options);
    const draft = new Backtest([overspeed(100, 2)], options);
    current.feed(records);
    draft.feed(records);
    const comparison = compareAlerts(current.finish(t0 + 10_000), draft.finish(t0 + 10_000));
    const summary = (alerts: AlertMessage[]) => alerts.map((a) => `${a.vehicleId}@${a.startedAt}`);
    expect(summary(comparison.added)).toEqual([`truck-3@${at(0)}`, `truck-1@${at(1)}`]);
    expect(summary(comparison.removed)).toEqual([`truck-1@${at(2)}`]);
    expect(comparison.unchanged).toBe(1);
  });
});
