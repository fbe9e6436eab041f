import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { Client } from '@elastic/elasticsearch';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { topicNames, type AlertMessage } from '@fleetlog/contracts';
import { AppFleet } from '../support/app-fleet';
import { NotifierFeed } from '../support/notifier-feed';
import { WebhookReceiver } from '../support/webhook-receiver';
import { tearDownNamespace } from '../support/namespace-cleanup';
import { testNamespace } from '../support/test-namespace';

/**
 * Hostile webhook targets against the real notifier on real Kafka: a receiver that trickles its answer forever and
 * one that redirects into the private network. Each attempt fails on its own, is retried and finally parked with
 * its reason, while a well-behaved target of the same alerts is delivered meanwhile. (Private addresses: see
 * notifier.int-spec; DNS rebinding: webhook-sender.spec, with a resolver the test controls.)
 */
describe('hostile webhook targets', () => {
  const namespace = testNamespace('ht');
  const topics = topicNames(namespace);
  const kafka = new Kafka({ brokers: process.env.KAFKA_BROKERS!.split(','), logLevel: logLevel.NOTHING });
  const producer: Producer = kafka.producer();
  const elasticsearch = new Client({ node: process.env.ELASTICSEARCH_URL! });
  const apps = new AppFleet(namespace);
  const feed = new NotifierFeed(producer, topics, apps, 'hostile-targets.int-spec');
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
    const exitCodes = await tearDownNamespace(apps, elasticsearch, namespace);
    await producer.disconnect();
    await good.stop();
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
    expect(exitCodes.every((code) => code === 0)).toBe(true);
  });

  async function listen(server: Server): Promise<number> {
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return (server.address() as AddressInfo).port;
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
    const loris = await feed.addTarget(`http://127.0.0.1:${port}/hook`, { filters: { fleetIds: [fleetId] } });
    await feed.addTarget(goodUrl, { filters: { fleetIds: [fleetId] } });

    const alert = await feed.raise(fleetId);
    await apps.eventually(() => delivered(alert), 'the well-behaved target to be delivered');
    expect(delivered(alert)!.answeredWith).toBe(204);

    const letter = await feed.parked(loris.id, `${alert.alertId}.active`);
    expect(letter).toMatchObject({
      attempts: maxAttempts,
      lastError: `timed out after ${attemptTimeoutMs} ms (after ${maxAttempts} attempts)`,
    });
    expect(letter.history.map((attempt) => attempt.error)).toEqual(
      Array(maxAttempts).fill(`timed out after ${attemptTimeoutMs} ms`),
    );
    expect(connections).toHaveLength(maxAttempts);
    // The notifier hung up on each: nothing is left open on a receiver that never finishes.
    await apps.eventually(
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
    const redirecting = await feed.addTarget(`http://127.0.0.1:${port}/hook`, {
      filters: { fleetIds: [fleetId] },
    });
    await feed.addTarget(goodUrl, { filters: { fleetIds: [fleetId] } });

    const alert = await feed.raise(fleetId);
    const letter = await feed.parked(redirecting.id, `${alert.alertId}.active`);

    expect(letter).toMatchObject({
      attempts: maxAttempts,
      lastError: `HTTP 302 (redirects are not followed) (after ${maxAttempts} attempts)`,
    });
    expect(requested).toEqual(Array(maxAttempts).fill('POST /hook'));
    expect(delivered(alert)?.answeredWith).toBe(204);
  });
});
