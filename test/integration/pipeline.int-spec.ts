import { randomBytes } from 'node:crypto';
import { Client } from '@elastic/elasticsearch';
import { Kafka, logLevel, ConfigResourceTypes } from 'kafkajs';
import type { AlertMessage } from '@fleetlog/contracts';
import { datasetNames } from '@fleetlog/elasticsearch';
import { verifyWebhook, type WebhookHeaders } from '@fleetlog/webhooks';
import { AppFleet } from '../support/app-fleet';
import { eventually, WebhookReceiver } from '../support/webhook-receiver';
import { tearDownNamespace } from '../support/namespace-cleanup';
import { testNamespace } from '../support/test-namespace';

/**
 * The thinnest real path, end to end on real servers: simulator → Mosquitto → gateway → Kafka → cep (rules/
 * overspeed.json) → Elasticsearch alert behind its read alias → fleet.alerts → notifier → signed webhook.
 * Everything runs as separate processes, as in production, in a namespace of its own.
 */
describe('pipeline, end to end', () => {
  const namespace = testNamespace('it');
  const fleetId = `fleet-${randomBytes(3).toString('hex')}`;
  const secret = `whsec_${randomBytes(24).toString('base64')}`;
  const receiver = new WebhookReceiver();
  const elasticsearch = new Client({ node: process.env.ELASTICSEARCH_URL! });
  const kafka = new Kafka({ brokers: process.env.KAFKA_BROKERS!.split(','), logLevel: logLevel.NOTHING });
  const apps = new AppFleet(namespace);

  beforeAll(async () => {
    const webhookUrl = await receiver.start();
    await apps.launch('gateway', { MQTT_CLIENT_ID: `${namespace}-gateway` });
    await apps.launch('cep', { RULES_DIR: 'rules' });
    await apps.launch('notifier', {
      WEBHOOK_URL: webhookUrl,
      WEBHOOK_SECRET: secret,
      // The receiver listens on loopback, which the SSRF guard refuses unless told otherwise.
      WEBHOOK_ALLOW_PRIVATE_NETWORK: 'true',
    });
  });

  afterAll(async () => {
    const exitCodes = await tearDownNamespace(apps, elasticsearch, namespace);
    await receiver.stop();
    expect(exitCodes.every((code) => code === 0)).toBe(true);
  });

  it('turns a simulated vehicle speeding on the highway into a signed webhook and a searchable alert', async () => {
    await apps.launch(
      'simulator',
      {
        SIMULATOR_FLEET_ID: fleetId,
        SIMULATOR_VEHICLES: '1',
        SIMULATOR_PROFILE: 'highway',
        SIMULATOR_RATE_HZ: '2',
      },
      { waitUntilReady: false },
    );

    const webhook = await apps.eventually(
      () => receiver.received.find((request) => JSON.parse(request.body).data.fleetId === fleetId),
      'the overspeed webhook',
      90_000,
    );

    const event = JSON.parse(webhook.body) as { type: string; data: AlertMessage };
    expect(
      verifyWebhook(secret, webhook.headers as unknown as WebhookHeaders, webhook.body, new Date()),
    ).toBe(true);
    expect(event.type).toBe('alert.active');
    expect(event.data).toMatchObject({
      ruleId: 'overspeed',
      ruleVersion: 1,
      vehicleId: 'sim-00001',
      fleetId,
      status: 'active',
    });
    // The rule says "for 10s": the alert is raised 10 s of event time after the condition started to hold.
    expect(Date.parse(event.data.raisedAt) - Date.parse(event.data.startedAt)).toBeGreaterThanOrEqual(10_000);
    expect(webhook.headers['webhook-id']).toBe(`${event.data.alertId}.active`);

    const alias = `${namespace}-fleet-alerts`;
    const stored = await eventually(
      async () => {
        await elasticsearch.indices.refresh({ index: alias });
        const found = await elasticsearch.search<AlertMessage>({
          index: alias,
          query: { term: { alertId: event.data.alertId } },
        });
        return found.hits.hits[0];
      },
      10_000,
      'the alert document',
    );
    expect(stored._index).toBe(`${namespace}-fleet-alerts-v1`);
    expect(stored._id).toBe(event.data.alertId);
    expect(stored._source!.lineage[0]!.topic).toBe(`${namespace}.fleet.telemetry`);
  });

  it('indexes every telemetry record behind the read alias with the template mapping', async () => {
    const alias = `${namespace}-fleet-telemetry`;
    await elasticsearch.indices.refresh({ index: alias });
    const { count } = await elasticsearch.count({ index: alias, query: { term: { fleetId } } });
    expect(count).toBeGreaterThan(20);
    const mapping = await elasticsearch.indices.getMapping({ index: alias });
    const properties = mapping[datasetNames(namespace, 'v1').telemetry.index]!.mappings.properties!;
    expect(properties.location).toEqual({ type: 'geo_point' });
    expect(properties.vehicleId).toEqual({ type: 'keyword' });
  });

  it('keeps the telemetry topic forever: the log is the system of record', async () => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      const { resources } = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [
          {
            type: ConfigResourceTypes.TOPIC,
            name: `${namespace}.fleet.telemetry`,
            configNames: ['retention.ms'],
          },
        ],
      });
      expect(resources[0]!.configEntries).toEqual([
        expect.objectContaining({ configName: 'retention.ms', configValue: '-1' }),
      ]);
    } finally {
      await admin.disconnect();
    }
  });
});
