import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@elastic/elasticsearch';
import { Kafka, logLevel } from 'kafkajs';
import { encodeTelemetryRecord, type AlertMessage, type TelemetryRecord } from '@fleetlog/contracts';
import { datasetNames } from '@fleetlog/elasticsearch';
import { freePort } from '../../tools/main/app-process.ts';
import { AppFleet } from '../support/app-fleet';
import { readCarObdRecording } from '../support/carobd';
import { removeNamespaceIndices } from '../support/namespace-cleanup';
import { eventually, WebhookReceiver } from '../support/webhook-receiver';
import { testNamespace } from '../support/test-namespace';

interface WebhookEvent {
  type: string;
  data: AlertMessage;
}

/**
 * Kappa reprocessing end to end on the real servers (api, cep and notifier as processes; telemetry written to
 * fleet.telemetry as the gateway writes it): carOBD drives are ingested under rule set A; a replay with rule set B
 * reads the whole log into v2 while new telemetry keeps arriving; it is promoted; the read aliases then serve B's
 * alerts, no webhook went out for the replay's historical alerts, a live alert after the switch is delivered once,
 * and cleaning up v1 removes its indices.
 */
describe('replay and promote', () => {
  const namespace = testNamespace('it');
  const fleetId = `fleet-${randomBytes(3).toString('hex')}`;
  const adminKey = `bootstrap-${randomBytes(24).toString('hex')}`;
  const kafka = new Kafka({ brokers: process.env.KAFKA_BROKERS!.split(','), logLevel: logLevel.NOTHING });
  const producer = kafka.producer();
  const elasticsearch = new Client({ node: process.env.ELASTICSEARCH_URL! });
  const receiver = new WebhookReceiver();
  const apps = new AppFleet(namespace);
  const drive = readCarObdRecording('drive3.csv').slice(0, 900);
  let api = '';

  /** A: above 40 km/h for 5 s (twice in this drive). B, its second version: above 20 km/h for 5 s (13 times). */
  const speeding = (version: number, aboveKph: number) => ({
    id: 'speeding',
    version,
    name: 'Speeding',
    severity: 'warning',
    scope: { fleets: [fleetId] },
    conditions: { all: [{ fact: 'speedKph', operator: 'greaterThan', value: aboveKph }] },
    for: '5s',
    message: '{{vehicleId}} at {{speedKph}} km/h',
  });

  const call = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${api}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${adminKey}`,
        ...(body !== undefined && { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    return { status: response.status, body: (text ? JSON.parse(text) : undefined) as any };
  };

  const send = (vehicleId: string, time: number, speedKph: number) => {
    const ts = new Date(time).toISOString();
    const record: TelemetryRecord = {
      vehicleId,
      fleetId,
      ts,
      channel: 'telemetry',
      receivedAt: ts,
      speedKph,
    };
    return { key: vehicleId, value: encodeTelemetryRecord(record) };
  };

  const webhooks = () => receiver.received.map((request) => JSON.parse(request.body) as WebhookEvent);

  const aliasAlerts = async () => {
    const alias = datasetNames(namespace, 'v1').alerts.alias;
    await elasticsearch.indices.refresh({ index: alias });
    const found = await elasticsearch.search<AlertMessage>({
      index: alias,
      size: 1000,
      query: { match_all: {} },
    });
    return found.hits.hits;
  };

  beforeAll(async () => {
    const webhookUrl = await receiver.start();
    const apiPort = await freePort();
    api = `http://127.0.0.1:${apiPort}`;
    const rulesA = mkdtempSync(join(tmpdir(), 'fleetlog-rules-a-'));
    writeFileSync(join(rulesA, 'speeding.json'), JSON.stringify(speeding(1, 40)));
    await Promise.all([
      apps.launch('api', { API_ADMIN_KEY: adminKey }, { port: apiPort }),
      apps.launch('cep', { RULES_DIR: rulesA, CEP_ALLOWED_LATENESS_MS: '1000' }),
      apps.launch('notifier', {}),
    ]).catch((error: Error) => {
      throw new Error(`${error.message}\n${apps.recentOutput(60)}`);
    });
    await producer.connect();
    const target = await call('POST', '/webhook-targets', {
      url: webhookUrl,
      filters: { fleetIds: [fleetId] },
      allowPrivateNetwork: true,
    });
    expect(target.status).toBe(201);
  });

  afterAll(async () => {
    await producer.disconnect();
    const exitCodes = await apps.stopAll();
    await receiver.stop();
    await removeNamespaceIndices(elasticsearch, namespace, ['v1', 'v2']);
    await elasticsearch.close();
    if (exitCodes.length !== 3 || exitCodes.some((code) => code !== 0)) {
      process.stdout.write(apps.recentOutput(200));
    }
    expect(exitCodes).toEqual([0, 0, 0]);
  });

  it('replays the log under new rules into v2, promotes it, and hands notification over without repeats', async () => {
    // History: the recorded drive, one reading a second, ending a minute ago, under rule set A.
    const historyEnd = Date.now() - 60_000;
    const historyStart = historyEnd - drive.length * 1000;
    await producer.send({
      topic: `${namespace}.fleet.telemetry`,
      acks: -1,
      messages: drive.map((reading, second) =>
        send('etios-1', historyStart + second * 1000, reading.speedKph),
      ),
    });
    const liveAlertsA = await eventually(
      async () => {
        const hits = await aliasAlerts();
        return hits.length > 0 && webhooks().length > 0 ? hits : undefined;
      },
      60_000,
      'rule set A’s alerts over the recorded drive',
    );
    expect(liveAlertsA.every((hit) => hit._index.endsWith('-v1'))).toBe(true);

    // The replay, with B; new telemetry of another vehicle keeps arriving meanwhile, below both thresholds.
    const started = await call('POST', '/replays', { version: 'v2', rules: [speeding(2, 20)] });
    expect(started.status).toBe(201);
    let live = Date.now();
    const steady = setInterval(() => {
      live += 1000;
      void producer.send({ topic: `${namespace}.fleet.telemetry`, messages: [send('etios-2', live, 10)] });
    }, 1000);
    try {
      await eventually(
        async () => {
          const { body } = await call('GET', '/replays/v2');
          const { progress } = body ?? {};
          return progress?.total > 0 && progress.done === progress.total && progress.lag === 0
            ? body
            : undefined;
        },
        90_000,
        'the replay caught up',
      );
      const v2Index = datasetNames(namespace, 'v2').alerts.index;
      await elasticsearch.indices.refresh({ index: v2Index });
      const v2Alerts = await elasticsearch.count({ index: v2Index });
      expect(v2Alerts.count).toBeGreaterThan(0);
      // Historical alerts of the replay are indexed, never sent.
      expect(webhooks().filter((event) => event.data.jobVersion === 'v2')).toEqual([]);

      const promoted = await call('POST', '/replays/v2/promote');
      expect(promoted.status).toBe(200);
      expect(promoted.body).toMatchObject({ version: 'v2', state: 'live', previous: 'v1' });
    } finally {
      clearInterval(steady);
    }

    // The read aliases now serve B's alerts, in v2's indices.
    const served = await aliasAlerts();
    expect(served.length).toBeGreaterThan(liveAlertsA.length);
    expect(served.every((hit) => hit._index.endsWith('-v2') && hit._source!.ruleVersion === 2)).toBe(true);
    expect(webhooks().filter((event) => event.data.jobVersion === 'v2')).toEqual([]);

    // A live alert after the switch: decided by v2, delivered exactly once; v1 has stopped.
    const from = Date.now();
    await producer.send({
      topic: `${namespace}.fleet.telemetry`,
      acks: -1,
      messages: Array.from({ length: 10 }, (_, second) => send('etios-3', from + second * 1000, 30)),
    });
    const delivered = await eventually(
      () => webhooks().find((event) => event.data.vehicleId === 'etios-3' && event.type === 'alert.active'),
      30_000,
      'the live alert after the switch',
    );
    expect(delivered.data).toMatchObject({ jobVersion: 'v2', ruleVersion: 2 });
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(webhooks().filter((event) => event.data.vehicleId === 'etios-3')).toHaveLength(1);

    // Cleanup removes v1's indices; the live version's cannot be removed.
    expect((await call('DELETE', '/replays/v2/indices')).status).toBe(409);
    const cleanup = await call('DELETE', '/replays/v1/indices');
    expect({ status: cleanup.status, detail: cleanup.body?.detail }).toEqual({
      status: 200,
      detail: undefined,
    });
    const v1Left = await elasticsearch.indices.exists({ index: datasetNames(namespace, 'v1').alerts.index });
    expect(v1Left).toBe(false);
  });
});
