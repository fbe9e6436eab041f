import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@elastic/elasticsearch';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import type { AlertMessage, RuleRecord, TelemetryRecord, VehicleRecord } from '@fleetlog/contracts';
import { freePort } from '../../tools/main/app-process.ts';
import { AlertTail } from '../support/alert-tail';
import { AppFleet } from '../support/app-fleet';
import { readTopic } from '../support/kafka-reader';
import { eventually } from '../support/webhook-receiver';
import { tearDownNamespace } from '../support/namespace-cleanup';
import { testNamespace } from '../support/test-namespace';

/**
 * Rules live in the log: cep seeds the compacted fleet.rules topic from its rule directory on first start, then
 * applies every record written to it (as the rules API writes them) while it runs, without a restart; so too the
 * vehicles' tags on fleet.vehicles, which rules can be scoped to. Telemetry is
 * written to fleet.telemetry as the gateway writes it, so the test needs no MQTT.
 */
describe('rules changed while cep runs', () => {
  const namespace = testNamespace('it');
  const topics = {
    rules: `${namespace}.fleet.rules`,
    telemetry: `${namespace}.fleet.telemetry`,
    alerts: `${namespace}.fleet.alerts`,
    vehicles: `${namespace}.fleet.vehicles`,
  };
  const kafka = new Kafka({ brokers: process.env.KAFKA_BROKERS!.split(','), logLevel: logLevel.NOTHING });
  const elasticsearch = new Client({ node: process.env.ELASTICSEARCH_URL! });
  const apps = new AppFleet(namespace);
  const producer: Producer = kafka.producer();
  const alertTail = new AlertTail(kafka, topics.alerts, `${namespace}-test-alerts`);
  const { alerts } = alertTail;
  const rulesDir = mkdtempSync(join(tmpdir(), 'fleetlog-rules-'));
  let metricsUrl = '';

  const hotCoolant = (version: number, above: number) => ({
    id: 'hot-coolant',
    version,
    name: 'Coolant hot',
    severity: 'critical',
    conditions: { all: [{ fact: 'coolantTempC', operator: 'greaterThan', value: above }] },
    message: '{{vehicleId}} coolant at {{coolantTempC}} °C',
  });

  const publishRule = (id: string, rule: unknown) => {
    const record: RuleRecord = { rule, changedBy: 'live-rules test', changedAt: new Date().toISOString() };
    return producer.send({
      topic: topics.rules,
      acks: -1,
      messages: [{ key: id, value: JSON.stringify(record) }],
    });
  };

  const sendReading = (vehicleId: string, coolantTempC: number) => {
    const now = new Date().toISOString();
    const record: TelemetryRecord = {
      vehicleId,
      fleetId: 'live',
      ts: now,
      channel: 'telemetry',
      receivedAt: now,
      coolantTempC,
    };
    return producer.send({
      topic: topics.telemetry,
      acks: -1,
      messages: [{ key: vehicleId, value: JSON.stringify(record) }],
    });
  };

  /** As the api's PUT /vehicles writes it; no tags at all is a tombstone (DELETE). */
  const tagVehicle = (vehicleId: string, tags: string[]) => {
    const record: VehicleRecord = {
      fleetId: 'live',
      vehicleId,
      tags,
      changedBy: 'live-rules test',
      changedAt: new Date().toISOString(),
    };
    return producer.send({
      topic: topics.vehicles,
      acks: -1,
      messages: [{ key: `live/${vehicleId}`, value: tags.length > 0 ? JSON.stringify(record) : null }],
    });
  };

  /** Sends the reading every half second until an alert transition matching `match` arrives. */
  const readUntil = async (
    vehicleId: string,
    coolantTempC: number,
    match: (alert: AlertMessage) => boolean,
  ) =>
    apps.eventually(async () => {
      await sendReading(vehicleId, coolantTempC);
      await new Promise((resolve) => setTimeout(resolve, 250));
      return alerts.find(match);
    }, `an alert transition for ${vehicleId}`);

  beforeAll(async () => {
    writeFileSync(join(rulesDir, 'hot-coolant.json'), JSON.stringify(hotCoolant(1, 110)));
    const port = await freePort();
    metricsUrl = `http://127.0.0.1:${port}/metrics`;
    await apps.launch('cep', { RULES_DIR: rulesDir, CEP_ALLOWED_LATENESS_MS: '1000' }, { port });
    await producer.connect();
    await alertTail.start();
  });

  afterAll(async () => {
    await alertTail.stop();
    await producer.disconnect();
    const exitCodes = await tearDownNamespace(apps, elasticsearch, namespace);
    expect(exitCodes).toEqual([0]);
  });

  it('seeds fleet.rules from the rule directory on first start', async () => {
    const records = await readTopic(topics.rules, (read) => read.length > 0, 10_000);
    expect(records.map((record) => record.key)).toEqual(['hot-coolant']);
    const seeded = JSON.parse(records[0]!.value.toString('utf8')) as RuleRecord;
    expect(seeded.rule).toMatchObject({ id: 'hot-coolant', version: 1 });
    expect(seeded.changedBy).toBe(`${rulesDir}/`);
  });

  it('evaluates a rule added to fleet.rules while running, without a restart', async () => {
    await publishRule('freezing-coolant', {
      id: 'freezing-coolant',
      version: 1,
      name: 'Coolant freezing',
      severity: 'warning',
      conditions: { all: [{ fact: 'coolantTempC', operator: 'lessThan', value: -30 }] },
      message: '{{vehicleId}} is freezing',
    });
    const raised = await readUntil('truck-cold', -40, (alert) => alert.ruleId === 'freezing-coolant');
    expect(raised).toMatchObject({ vehicleId: 'truck-cold', ruleVersion: 1, status: 'active' });
  });

  it('applies a new version of a rule: the old version’s alert is cleared and the new one judges', async () => {
    const first = await readUntil(
      'truck-hot',
      115,
      (alert) => alert.vehicleId === 'truck-hot' && alert.status === 'active',
    );
    expect(first).toMatchObject({ ruleId: 'hot-coolant', ruleVersion: 1 });

    await publishRule('hot-coolant', hotCoolant(2, 130));
    const cleared = await eventually(
      () => alerts.find((alert) => alert.alertId === first.alertId && alert.status === 'cleared'),
      10_000,
      'the version 1 alert cleared by the change',
    );
    expect(cleared.ruleVersion).toBe(1);
    // 115 °C no longer counts under version 2; 135 °C does.
    await sendReading('truck-hot', 115);
    const second = await readUntil(
      'truck-hot',
      135,
      (alert) => alert.vehicleId === 'truck-hot' && alert.ruleVersion === 2,
    );
    expect(second).toMatchObject({
      ruleId: 'hot-coolant',
      status: 'active',
      facts: expect.objectContaining({ coolantTempC: 135 }),
    });
    expect(alerts.filter((alert) => alert.ruleVersion === 2 && alert.vehicleId === 'truck-hot')).toHaveLength(
      1,
    );
  });

  it('refuses a record that holds no valid rule and keeps the previous version', async () => {
    await publishRule('hot-coolant', {
      ...hotCoolant(3, 90),
      conditions: { all: [{ fact: 'coolantTempC', operator: 'hotterThan', value: 90 }] },
    });
    const rejected = await eventually(
      async () => {
        const metrics = await (await fetch(metricsUrl)).text();
        const count = /^fleetlog_cep_rule_records_rejected_total(?:\{[^}]*\})? (\d+)/m.exec(metrics)?.[1];
        return count === '1' ? count : undefined;
      },
      10_000,
      'the refused rule record counted',
    );
    expect(rejected).toBe('1');
    // Version 2 still judges: 120 °C raises nothing for a new vehicle, 140 °C does, under version 2.
    await sendReading('truck-warm', 120);
    const raised = await readUntil('truck-warm', 140, (alert) => alert.vehicleId === 'truck-warm');
    expect(raised).toMatchObject({ ruleVersion: 2, status: 'active' });
  });

  it('gauges the vehicles it keeps state for and the alerts active now, per job', async () => {
    // By now truck-cold, truck-hot and truck-warm each have an alert active under the rules job.
    const gauged = await eventually(
      async () => {
        const metrics = await (await fetch(metricsUrl)).text();
        const gauge = (name: string) =>
          [...metrics.matchAll(new RegExp(`^${name}\\{job="([^"]+)"[^}]*\\} (\\d+)$`, 'gm'))].map(
            ([, job, value]) => [job, Number(value)],
          );
        const active = gauge('fleetlog_cep_active_alerts');
        return active.some(([, value]) => value === 3)
          ? { active, vehicles: gauge('fleetlog_cep_vehicles') }
          : undefined;
      },
      10_000,
      'three active alerts gauged',
    );
    const [rulesJob] = gauged.active.find(([, value]) => value === 3)!;
    expect(gauged.vehicles).toContainEqual([rulesJob, 3]);
  });

  it('follows fleet.vehicles while running: a vehicle tagged comes into a tag-scoped rule, one untagged leaves it', async () => {
    await tagVehicle('truck-reefer', ['reefer', 'eu']);
    await publishRule('reefer-warm', {
      id: 'reefer-warm',
      version: 1,
      name: 'Reefer engine warm',
      severity: 'info',
      scope: { tags: ['reefer'] },
      conditions: { all: [{ fact: 'coolantTempC', operator: 'greaterThan', value: 100 }] },
      message: '{{vehicleId}} coolant at {{coolantTempC}} °C',
    });
    const isReeferWarm = (vehicleId: string) => (alert: AlertMessage) =>
      alert.ruleId === 'reefer-warm' && alert.vehicleId === vehicleId;
    const raised = await readUntil('truck-reefer', 105, isReeferWarm('truck-reefer'));
    expect(raised.status).toBe('active');

    // An untagged vehicle: hot-coolant (version 2, above 130 °C) says its readings were judged; reefer-warm not.
    await readUntil('truck-plain', 135, (alert) => alert.vehicleId === 'truck-plain');
    expect(alerts.filter(isReeferWarm('truck-plain'))).toEqual([]);

    await tagVehicle('truck-reefer', []);
    const cleared = await eventually(
      () => alerts.find((alert) => alert.alertId === raised.alertId && alert.status === 'cleared'),
      10_000,
      'the reefer-warm alert cleared once the vehicle lost its tag',
    );
    expect(cleared.ruleId).toBe('reefer-warm');

    await tagVehicle('truck-plain', ['reefer']);
    const tagged = await readUntil('truck-plain', 105, isReeferWarm('truck-plain'));
    expect(tagged.status).toBe('active');
    expect(alerts.filter(isReeferWarm('truck-reefer'))).toHaveLength(2);
  });
});
