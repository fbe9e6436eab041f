import { randomBytes, randomUUID } from 'node:crypto';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { Client } from '@elastic/elasticsearch';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import {
  topicNames,
  webhookDeliveryKey,
  type AlertMessage,
  type WebhookDeadLetter,
  type WebhookTarget,
} from '@fleetlog/contracts';
import { AppFleet } from '../support/app-fleet';
import { readTopic } from '../support/kafka-reader';
import { eventually, WebhookReceiver } from '../support/webhook-receiver';
import { removeNamespaceIndices } from '../support/namespace-cleanup';

/**
 * Hostile webhook targets against the real notifier on real Kafka: a receiver that trickles its answer forever and
 * one that redirects into the private network. Each attempt fails on its own, is retried and finally parked with
 * its reason, while a well-behaved target of the same alerts is delivered meanwhile. (Private addresses: see
 * notifier.int-spec; DNS rebinding: webhook-sender.spec, with a resolver the test controls.)
 */
describe('hostile webhook targets', () => {
  const namespace = `ht-${randomBytes(4).toString('hex')}`;
  const topics = topicNames(namespace);
  const kafka = new Kafka({ brokers: process.env.KAFKA_BROKERS!.split(','), logLevel: logLevel.NOTHING });
  const producer: Producer = kafka.producer();
  const elasticsearch = new Client({ node: process.env.ELASTICSEARCH_URL! });
  const apps = new AppFleet(namespace);
  const servers: Server[] = [];
  const maxAttempts = 3;
  const attemptTimeoutMs = 1_000;
  let good: WebhookReceiver;
  let goodUrl: string;

  beforeAll(async () => {
    good = new WebhookReceiver();
    goodUrl = await good.start();
    await apps.launch('notifier', {
      WEBHOOK_MAX_ATTEMPTS: String(maxAttempts),
      WEBHOOK_RETRY_INITIAL_DELAY_MS: '300',
      WEBHOOK_RETRY_MAX_DELAY_MS: '1000',
      WEBHOOK_ATTEMPT_TIMEOUT_MS: String(attemptTimeoutMs),
      NOTIFIER_INSTANCE_ID: `${namespace}-notifier`,
    });
    await producer.connect();
  });

  afterAll(async () => {
    const exitCodes = await apps.stopAll();
    await producer.disconnect();
    await good.stop();
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
    await removeNamespaceIndices(elasticsearch, namespace);
    await elasticsearch.close();
    if (exitCodes.some((code) => code !== 0)) process.stdout.write(apps.recentOutput(200));
    expect(exitCodes.every((code) => code === 0)).toBe(true);
  });

  async function listen(server: Server): Promise<number> {
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return (server.address() as AddressInfo).port;
  }

  /** Writes a target for the fleet and waits until the notifier has read it. */
  async function addTarget(url: string, fleetId: string): Promise<WebhookTarget> {
    const target: WebhookTarget = {
      id: randomUUID(),
      url,
      secret: `whsec_${randomBytes(24).toString('base64')}`,
      enabled: true,
      filters: { fleetIds: [fleetId] },
      // The receivers listen on loopback.
      allowPrivateNetwork: true,
      changedBy: 'hostile-targets.int-spec',
      changedAt: new Date().toISOString(),
    };
    await producer.send({
      topic: topics.webhookTargets,
      messages: [{ key: target.id, value: JSON.stringify(target) }],
    });
    await waitFor(
      () => apps.output.find((line) => line.includes(target.id) && line.includes('webhook target changed')),
      `the notifier to read target ${target.id}`,
    );
    return target;
  }

  async function raise(fleetId: string): Promise<AlertMessage> {
    const alert: AlertMessage = {
      alertId: randomBytes(8).toString('hex'),
      status: 'active',
      ruleId: 'overspeed',
      ruleVersion: 1,
      ruleName: 'Overspeed',
      severity: 'critical',
      vehicleId: 'veh-1',
      fleetId,
      message: 'speed above 120 km/h for 10 s',
      startedAt: new Date(Date.now() - 10_000).toISOString(),
      raisedAt: new Date().toISOString(),
      facts: { speedKph: 131 },
      lineage: [{ topic: topics.telemetry, partition: 0, offset: '42' }],
    };
    await producer.send({
      topic: topics.alerts,
      messages: [{ key: alert.alertId, value: JSON.stringify(alert) }],
    });
    return alert;
  }

  function waitFor<T>(probe: () => T | undefined, what: string): Promise<T> {
    return eventually(probe, 30_000, what).catch((error: Error) => {
      throw new Error(`${error.message}\n${apps.recentOutput()}`);
    });
  }

  async function parked(targetId: string, alert: AlertMessage): Promise<WebhookDeadLetter> {
    const key = webhookDeliveryKey(targetId, `${alert.alertId}.active`);
    const records = await readTopic(
      topics.webhookDeadLetters,
      (read) => read.some((record) => record.key === key),
      30_000,
    );
    const record = records.find((read) => read.key === key);
    if (!record) throw new Error(`no dead letter for ${key}\n${apps.recentOutput()}`);
    return JSON.parse(record.value.toString('utf8')) as WebhookDeadLetter;
  }

  const delivered = (alert: AlertMessage) =>
    good.received.find((request) => request.headers['webhook-id'] === `${alert.alertId}.active`);

  it('times out each attempt on a receiver that trickles its headers forever, retries it, parks it, and delivers another target meanwhile', async () => {
    const connections: Socket[] = [];
    const port = await listen(
      createTcpServer((socket) => {
        connections.push(socket);
        socket.on('error', () => undefined);
        socket.write('HTTP/1.1 200 OK\r\nx-slow: ');
        const trickle = setInterval(() => socket.write('.'), 100);
        socket.on('close', () => clearInterval(trickle));
      }),
    );
    const fleetId = `fleet-${randomBytes(3).toString('hex')}`;
    const loris = await addTarget(`http://127.0.0.1:${port}/hook`, fleetId);
    await addTarget(goodUrl, fleetId);

    const alert = await raise(fleetId);
    await waitFor(() => delivered(alert), 'the well-behaved target to be delivered');
    expect(delivered(alert)!.answeredWith).toBe(204);

    const letter = await parked(loris.id, alert);
    expect(letter).toMatchObject({
      attempts: maxAttempts,
      lastError: `timed out after ${attemptTimeoutMs} ms (after ${maxAttempts} attempts)`,
    });
    expect(letter.history.map((attempt) => attempt.error)).toEqual(
      Array(maxAttempts).fill(`timed out after ${attemptTimeoutMs} ms`),
    );
    expect(connections).toHaveLength(maxAttempts);
    // The notifier hung up on each: nothing is left open on a receiver that never finishes.
    await waitFor(
      () => (connections.every((socket) => socket.destroyed || socket.readableEnded) ? true : undefined),
      'the notifier to close every connection to the slow receiver',
    );
  });

  it('never follows a redirect into the private network: each attempt fails with the 3xx, and the target is parked', async () => {
    const requested: string[] = [];
    let port = 0;
    port = await listen(
      createHttpServer((request, response) => {
        requested.push(`${request.method} ${request.url}`);
        request.resume();
        response.writeHead(302, { location: `http://127.0.0.1:${port}/internal/admin` }).end();
      }),
    );
    const fleetId = `fleet-${randomBytes(3).toString('hex')}`;
    const redirecting = await addTarget(`http://127.0.0.1:${port}/hook`, fleetId);
    await addTarget(goodUrl, fleetId);

    const alert = await raise(fleetId);
    const letter = await parked(redirecting.id, alert);

    expect(letter).toMatchObject({
      attempts: maxAttempts,
      lastError: `HTTP 302 (redirects are not followed) (after ${maxAttempts} attempts)`,
    });
    expect(requested).toEqual(Array(maxAttempts).fill('POST /hook'));
    expect(delivered(alert)?.answeredWith).toBe(204);
  });
});
