import { mkdtempSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@elastic/elasticsearch';
import { Kafka, logLevel } from 'kafkajs';
import type { AlertMessage, TelemetryRecord } from '@fleetlog/contracts';
import { verifyWebhook, type WebhookHeaders } from '@fleetlog/webhooks';
import { freePort } from '../../tools/main/app-process.ts';
import { AppFleet } from '../support/app-fleet';
import { eventually, WebhookReceiver } from '../support/webhook-receiver';
import { tearDownNamespace } from '../support/namespace-cleanup';
import { testNamespace } from '../support/test-namespace';

interface WebhookEvent {
  type: string;
  data: AlertMessage;
}

/**
 * What a fleet operator does, on the real servers with every service but the gateway as its own process (telemetry
 * is written to fleet.telemetry as the gateway writes it): create a webhook target and a rule through the api, see
 * the rule fire in cep and arrive as a signed webhook within seconds, then edit the rule and see the new version
 * judge, without restarting anything.
 */
describe('operators, through the api', () => {
  const namespace = testNamespace('it');
  const fleetId = `fleet-${randomBytes(3).toString('hex')}`;
  const adminKey = `bootstrap-${randomBytes(24).toString('hex')}`;
  const kafka = new Kafka({ brokers: process.env.KAFKA_BROKERS!.split(','), logLevel: logLevel.NOTHING });
  const producer = kafka.producer();
  const elasticsearch = new Client({ node: process.env.ELASTICSEARCH_URL! });
  const receiver = new WebhookReceiver();
  const apps = new AppFleet(namespace);
  let api = '';
  let operatorKey = '';
  let targetSecret = '';

  const call = async (method: string, path: string, key: string, body?: unknown, headers = {}) => {
    const response = await fetch(`${api}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(body !== undefined && { 'content-type': 'application/json' }),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
  };

  const hotCoolant = (above: number) => ({
    id: 'hot-coolant',
    name: 'Coolant hot',
    severity: 'critical',
    scope: { fleets: [fleetId] },
    conditions: { all: [{ fact: 'coolantTempC', operator: 'greaterThan', value: above }] },
    message: '{{vehicleId}} coolant at {{coolantTempC}} °C',
  });

  const sendReading = (vehicleId: string, coolantTempC: number) => {
    const now = new Date().toISOString();
    const record: TelemetryRecord = {
      vehicleId,
      fleetId,
      ts: now,
      channel: 'telemetry',
      receivedAt: now,
      coolantTempC,
    };
    return producer.send({
      topic: `${namespace}.fleet.telemetry`,
      acks: -1,
      messages: [{ key: vehicleId, value: JSON.stringify(record) }],
    });
  };

  const webhooks = () =>
    receiver.received.map((request) => ({
      event: JSON.parse(request.body) as WebhookEvent,
      verified: verifyWebhook(
        targetSecret,
        request.headers as unknown as WebhookHeaders,
        request.body,
        new Date(),
      ),
    }));

  /** Sends the reading every half second until a webhook matching `match` arrives. */
  const readUntilWebhook = (
    vehicleId: string,
    coolantTempC: number,
    match: (event: WebhookEvent) => boolean,
  ) =>
    eventually(
      async () => {
        await sendReading(vehicleId, coolantTempC);
        await new Promise((resolve) => setTimeout(resolve, 500));
        return webhooks().find(({ event }) => match(event));
      },
      45_000,
      `a webhook for ${vehicleId}`,
    ).catch((error: Error) => {
      throw new Error(`${error.message}\n${apps.recentOutput(60)}`);
    });

  beforeAll(async () => {
    const webhookUrl = await receiver.start();
    const apiPort = await freePort();
    api = `http://127.0.0.1:${apiPort}`;
    // No shipped rules: the operator's rule is the only one.
    const emptyRules = mkdtempSync(join(tmpdir(), 'fleetlog-no-rules-'));
    await Promise.all([
      apps.launch('api', { API_ADMIN_KEY: adminKey }, { port: apiPort }),
      apps.launch('cep', { RULES_DIR: emptyRules, CEP_ALLOWED_LATENESS_MS: '1000' }),
      apps.launch('notifier', { WEBHOOK_RETRY_INITIAL_DELAY_MS: '300', WEBHOOK_RETRY_MAX_DELAY_MS: '1000' }),
    ]).catch((error: Error) => {
      throw new Error(`${error.message}\n${apps.recentOutput(60)}`);
    });
    await producer.connect();
    const operator = await call('POST', '/api-keys', adminKey, { name: 'dispatch', role: 'operator' });
    operatorKey = operator.body.key;
    // The receiver listens on loopback: only an admin may allow a target into private address space.
    const target = await call('POST', '/webhook-targets', adminKey, {
      url: webhookUrl,
      filters: { fleetIds: [fleetId] },
      allowPrivateNetwork: true,
    });
    expect(target.status).toBe(201);
    targetSecret = target.body.secret;
  });

  afterAll(async () => {
    await producer.disconnect();
    const exitCodes = await tearDownNamespace(apps, elasticsearch, namespace);
    await receiver.stop();
    expect(exitCodes).toEqual([0, 0, 0]);
  });

  it('fires a rule created through the api and delivers its alert as a signed webhook', async () => {
    const created = await call('POST', '/rules', operatorKey, hotCoolant(110));
    expect(created.status).toBe(201);
    expect(created.body.rule).toMatchObject({ id: 'hot-coolant', version: 1 });

    const { event, verified } = await readUntilWebhook(
      'truck-1',
      115,
      (candidate) => candidate.type === 'alert.active',
    );
    expect(verified).toBe(true);
    expect(event.data).toMatchObject({
      ruleId: 'hot-coolant',
      ruleVersion: 1,
      vehicleId: 'truck-1',
      fleetId,
      message: 'truck-1 coolant at 115 °C',
    });
  });

  it('applies an edit without a restart: the old version’s alert clears and the new version judges', async () => {
    const edited = await call('PUT', '/rules/hot-coolant', operatorKey, hotCoolant(130), {
      'if-match': '"1"',
    });
    expect(edited.status).toBe(200);
    expect(edited.body.rule.version).toBe(2);

    const cleared = await eventually(
      () => webhooks().find(({ event }) => event.type === 'alert.cleared' && event.data.ruleVersion === 1),
      20_000,
      'the version 1 alert cleared by the edit',
    );
    expect(cleared.verified).toBe(true);
    // 120 °C raised an alert under version 1; under version 2 it takes more than 130 °C.
    await sendReading('truck-2', 120);
    const raised = await readUntilWebhook(
      'truck-2',
      140,
      (candidate) => candidate.type === 'alert.active' && candidate.data.ruleVersion === 2,
    );
    expect(raised.event.data).toMatchObject({
      vehicleId: 'truck-2',
      facts: expect.objectContaining({ coolantTempC: 140 }),
    });
    expect(
      webhooks().filter(({ event }) => event.data.vehicleId === 'truck-2' && event.type === 'alert.active'),
    ).toHaveLength(1);
  });

  it('answers a stale edit with 409 and a broken rule with 422 naming the path, changing nothing', async () => {
    const stale = await call('PUT', '/rules/hot-coolant', operatorKey, hotCoolant(90), { 'if-match': '"1"' });
    expect(stale.status).toBe(409);
    const broken = hotCoolant(90);
    broken.conditions.all[0]!.operator = 'hotterThan';
    const refused = await call('PUT', '/rules/hot-coolant', operatorKey, broken, { 'if-match': '"2"' });
    expect(refused.status).toBe(422);
    expect(JSON.stringify(refused.body)).toContain('/conditions/all/0/operator');
    const current = await call('GET', '/rules/hot-coolant', operatorKey);
    expect(current.body.rule.version).toBe(2);
  });
});
