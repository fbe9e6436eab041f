import { encodeTelemetryRecord, type TelemetryRecord } from '@fleetlog/contracts';
import type { ConsumedRecord } from '@fleetlog/kafka';
import { validateRule, type Rule, type VehicleTagLookup } from '@fleetlog/rules';
import { isBroad, isJudgedPerMessage, RuleBreadthMeter, type RuleBreadth } from './rule-breadth';

function rule(document: Record<string, unknown>): Rule {
  const validation = validateRule({
    id: 'r',
    version: 1,
    name: 'R',
    severity: 'warning',
    message: 'm',
    ...document,
  });
  if (!validation.valid) throw new Error(JSON.stringify(validation.problems));
  return validation.rule;
}

const above = (speedKph: number) =>
  rule({ conditions: { all: [{ fact: 'speedKph', operator: 'greaterThan', value: speedKph }] } });

/** Twenty vehicles of two fleets, ten readings each, at 40 to 130 km/h, and a status message each. */
function traffic(): ConsumedRecord[] {
  const records: ConsumedRecord[] = [];
  for (let vehicle = 0; vehicle < 20; vehicle++) {
    const fleetId = vehicle < 10 ? 'acme' : 'globex';
    const vehicleId = `truck-${vehicle}`;
    const record = (value: Partial<TelemetryRecord>) => ({
      topic: 'fleet.telemetry',
      partition: 0,
      offset: String(records.length),
      key: vehicleId,
      value: encodeTelemetryRecord({
        fleetId,
        vehicleId,
        ts: '2026-12-03T06:00:00Z',
        channel: 'telemetry',
        receivedAt: '2026-12-03T06:00:00.100Z',
        ...value,
      }),
    });
    for (let reading = 0; reading < 10; reading++) records.push(record({ speedKph: 40 + reading * 10 }));
    records.push(record({ connection: 'online', channel: 'status' }));
  }
  return records;
}

function measure(measured: Rule, records = traffic(), tagsOf: VehicleTagLookup = () => []): RuleBreadth {
  const meter = new RuleBreadthMeter(measured, tagsOf);
  meter.feed(records);
  return meter.result();
}

describe('RuleBreadthMeter', () => {
  it('finds a rule that holds for every message of every vehicle, counting only messages with the fields it reads', () => {
    const breadth = measure(above(-1));
    expect(breadth).toEqual({ messages: 200, matched: 200, vehicles: 20, vehiclesMatched: 20 });
    expect(isBroad(breadth)).toBe(true);
  });

  it('lets pass a rule that holds for some messages of every vehicle', () => {
    const breadth = measure(above(100));
    expect(breadth).toEqual({ messages: 200, matched: 60, vehicles: 20, vehiclesMatched: 0 });
    expect(isBroad(breadth)).toBe(false);
  });

  it('lets pass a rule that holds always, but only for the vehicles in its scope', () => {
    const scoped = rule({ ...above(-1), scope: { fleets: ['acme'] } });
    expect(measure(scoped)).toMatchObject({ matched: 100, vehiclesMatched: 10 });
    expect(isBroad(measure(scoped))).toBe(false);
  });

  it('counts a tag-scoped rule as holding only for the vehicles carrying its tag', () => {
    const scoped = rule({ ...above(-1), scope: { tags: ['reefer'] } });
    const reefers = (_fleetId: string, vehicleId: string) => (vehicleId.endsWith('1') ? ['reefer'] : []);
    expect(measure(scoped, traffic(), reefers)).toMatchObject({ matched: 20, vehiclesMatched: 2 });
    expect(measure(scoped)).toMatchObject({ matched: 0, vehiclesMatched: 0 });
  });

  it('judges nothing on a sample too small to say: fewer than 10 vehicles', () => {
    const fewVehicles = traffic().filter((record) => ['truck-1', 'truck-2'].includes(record.key!));
    expect(isBroad(measure(above(-1), fewVehicles))).toBe(false);
  });

  it('leaves rules that need a vehicle’s history to the dry run', () => {
    const window = { fact: 'window', params: { fn: 'avg', field: 'speedKph', size: '5m' } };
    expect(isJudgedPerMessage(above(-1))).toBe(true);
    expect(
      isJudgedPerMessage(rule({ conditions: { all: [{ ...window, operator: 'greaterThan', value: -1 }] } })),
    ).toBe(false);
    expect(isJudgedPerMessage(rule({ ...above(-1), count: { atLeast: 3, within: '10m' } }))).toBe(false);
    expect(isJudgedPerMessage(rule({ absence: '10m' }))).toBe(false);
    expect(isJudgedPerMessage(rule({ ...above(-1), enabled: false }))).toBe(false);
  });
});
