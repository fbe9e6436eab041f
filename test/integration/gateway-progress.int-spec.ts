import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from '@elastic/elasticsearch';
import { Kafka, logLevel } from 'kafkajs';
import {
  encodeTelemetryRecord,
  topicNames,
  type GatewayProgress,
  type TelemetryRecord,
} from '@fleetlog/contracts';
import { createKafka, ensureTopics } from '@fleetlog/kafka';
import { pino } from 'pino';
import { AlertTail } from '../support/alert-tail';
import { AppFleet } from '../support/app-fleet';
import { tearDownNamespace } from '../support/namespace-cleanup';
import { testNamespace } from '../support/test-namespace';

/**
 * cep's wall clock waits for the gateways: a reading a gateway received long ago but could not put in the log (Kafka
 * was down) is evaluated when it lands, not taken for late, for as long as the gateway's progress says it is on its
 * way. The test writes fleet.gateway.progress and fleet.telemetry itself, as a held-up gateway would.
 */
describe('cep and the gateways’ progress', () => {
  const namespace = testNamespace('it');
  const topics = topicNames(namespace);
  const kafka = new Kafka({ brokers: process.env.KAFKA_BROKERS!.split(','), logLevel: logLevel.NOTHING });
  const producer = kafka.producer();
  const elasticsearch = new Client({ node: process.env.ELASTICSEARCH_URL! });
  const apps = new AppFleet(namespace);
  const alertTail = new AlertTail(kafka, topics.alerts, `${namespace}-test-alerts`);
  const { alerts } = alertTail;
  const rulesDir = mkdtempSync(join(tmpdir(), 'fleetlog-rules-'));
  const vehicleId = 'truck-held';
  const heldSince = Date.now();

  const writeProgress = (receivedThrough: string | null) =>
    producer.send({
      topic: topics.gatewayProgress,
      acks: -1,
      messages: [
        {
          key: 'held-gateway',
          value:
            receivedThrough === null ? null : JSON.stringify({ receivedThrough } satisfies GatewayProgress),
        },
      ],
    });

  const sendReading = (ts: number, coolantTempC: number) => {
    const record: TelemetryRecord = {
      vehicleId,
      fleetId: 'held',
      ts: new Date(ts).toISOString(),
      channel: 'telemetry',
      receivedAt: new Date(ts).toISOString(),
      coolantTempC,
    };
    return producer.send({
      topic: topics.telemetry,
      acks: -1,
      messages: [{ key: vehicleId, value: encodeTelemetryRecord(record) }],
    });
  };

  /** cep's warning for readings beyond the allowed lateness, whose alerts are missed. */
  const lateReadings = () =>
    apps.output.filter((line) => line.includes('readings arrived later than the allowed lateness'));

  beforeAll(async () => {
    await ensureTopics(
      createKafka(process.env.KAFKA_BROKERS!.split(','), 'test', pino({ level: 'silent' })),
      topics,
    );
    await producer.connect();
    // The gateway has put in the log everything it received until the test began, and nothing since.
    await writeProgress(new Date(heldSince).toISOString());
    // A reading of the vehicle's partition from before, so that cep has read the partition and finds it idle.
    await sendReading(heldSince - 500, 80);
    writeFileSync(
      join(rulesDir, 'hot-coolant.json'),
      JSON.stringify({
        id: 'hot-coolant',
        version: 1,
        name: 'Coolant hot',
        severity: 'critical',
        conditions: { all: [{ fact: 'coolantTempC', operator: 'greaterThan', value: 110 }] },
        message: '{{vehicleId}} coolant at {{coolantTempC}} °C',
      }),
    );
    await apps.launch('cep', {
      RULES_DIR: rulesDir,
      CEP_ALLOWED_LATENESS_MS: '1000',
      CEP_CLOCK_TICK_MS: '200',
      CEP_RAW_TELEMETRY: 'rollups-only',
    });
    await alertTail.start();
  });

  afterAll(async () => {
    await alertTail.stop();
    await producer.disconnect();
    const exitCodes = await tearDownNamespace(apps, elasticsearch, namespace);
    expect(exitCodes).toEqual([0]);
  });

  it('evaluates a reading held up well past the allowed lateness while its gateway says it is on its way', async () => {
    // Many clock ticks with the partition idle: by the wall clock alone its watermark would pass the reading's time.
    await sleep(3_000);
    await sendReading(heldSince + 1_000, 140);
    const raised = await apps.eventually(
      () => alerts.find((alert) => alert.vehicleId === vehicleId),
      'the alert of the held-up reading',
    );
    expect(raised).toMatchObject({ status: 'active', startedAt: new Date(heldSince + 1_000).toISOString() });
    expect(lateReadings()).toEqual([]);
  });

  it('takes such a reading for late once the gateway is gone (its progress deleted)', async () => {
    await writeProgress(null);
    await sleep(1_000);
    await sendReading(heldSince + 2_000, 150);
    expect(await apps.eventually(() => lateReadings()[0], 'the reading taken for late')).toContain(
      '"late":1',
    );
  });
});
