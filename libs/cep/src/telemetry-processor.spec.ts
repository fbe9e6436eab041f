import { datasetNames } from '@fleetlog/elasticsearch';
import type { ConsumedRecord } from '@fleetlog/kafka';
import { AlertTracker, JsonRulesEngineEvaluator, validateRule, type Rule } from '@fleetlog/rules';
import { TelemetryProcessor } from './telemetry-processor';

const validation = validateRule({
  id: 'overspeed',
  version: 1,
  name: 'Overspeed',
  severity: 'warning',
  conditions: { all: [{ fact: 'speedKph', operator: 'greaterThan', value: 120 }] },
  message: '{{vehicleId}} too fast',
});
const rules = [(validation as { rule: Rule }).rule];
const indices = datasetNames('', 'v1');

function consumed(offset: number, message: object | string): ConsumedRecord {
  const value = typeof message === 'string' ? message : JSON.stringify(message);
  return {
    topic: 'fleet.telemetry',
    partition: 2,
    offset: String(offset),
    key: 'truck-1',
    value: Buffer.from(value),
  };
}

const reading = (second: number, speedKph: number) => ({
  vehicleId: 'truck-1',
  fleetId: 'acme',
  ts: `2026-11-23T12:00:0${second}.000Z`,
  receivedAt: `2026-11-23T12:00:0${second}.100Z`,
  speedKph,
  position: { lat: 52.5, lon: 13.4, headingDeg: 90 },
});

describe('TelemetryProcessor', () => {
  const processor = () =>
    new TelemetryProcessor(new JsonRulesEngineEvaluator(rules), new AlertTracker(rules), indices);

  it('writes one telemetry document per record, identified by its log position, with a geo point', async () => {
    const { writes } = await processor().process([consumed(7, reading(0, 80))]);
    expect(writes).toEqual([
      {
        index: 'fleet-telemetry-v1',
        id: '2-7',
        action: 'create',
        document: expect.objectContaining({
          '@timestamp': '2026-11-23T12:00:00.000Z',
          location: { lat: 52.5, lon: 13.4 },
          headingDeg: 90,
          kafkaPartition: 2,
          kafkaOffset: '7',
        }),
      },
    ]);
  });

  it('emits the alert transitions and writes each as a document keyed by the alert id', async () => {
    const { alerts, writes } = await processor().process([
      consumed(1, reading(0, 130)),
      consumed(2, reading(1, 90)),
    ]);
    expect(alerts.map((alert) => alert.status)).toEqual(['active', 'cleared']);
    const alertWrites = writes.filter((write) => write.index === 'fleet-alerts-v1');
    expect(alertWrites.map((write) => [write.id, write.action])).toEqual([
      [alerts[0]!.alertId, 'index'],
      [alerts[0]!.alertId, 'index'],
    ]);
  });

  it('sets aside records that are not telemetry instead of failing the batch', async () => {
    const batch = await processor().process([consumed(1, 'not json'), consumed(2, reading(0, 80))]);
    expect(batch.unreadable.map((record) => record.offset)).toEqual(['1']);
    expect(batch.writes).toHaveLength(1);
  });
});
