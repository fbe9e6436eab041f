import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { Client } from '@elastic/elasticsearch';
import { recordIndexNames } from '@fleetlog/elasticsearch';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import {
  consumerGroupId,
  topicNames,
  type AlertMessage,
  type WebhookDeliveryRecord,
} from '@fleetlog/contracts';
import { verifyWebhook, type WebhookHeaders } from '@fleetlog/webhooks';
import type { AppProcess } from '../../tools/main/app-process.ts';
import { AppFleet } from '../support/app-fleet';
import { readTopicToEnd } from '../support/kafka-reader';
import { NotifierFeed } from '../support/notifier-feed';
import { WebhookReceiver, type ReceivedWebhook } from '../support/webhook-receiver';
import { tearDownNamespace } from '../support/namespace-cleanup';
import { testNamespace } from '../support/test-namespace';

const run = promisify(execFile);

/**
 * The notifier on real Kafka and Elasticsearch, with no cep: the test writes alert records to fleet.alerts and
 * target records to fleet.webhooks.targets itself, and runs HTTP receivers on loopback. Retries are scheduled in
 * fractions of a second (3 attempts), so parking takes seconds, not hours.
 */
describe('notifier', () => {
  const namespace = testNamespace('it');
  const topics = topicNames(namespace);
  const kafka = new Kafka({ brokers: process.env.KAFKA_BROKERS!.split(','), logLevel: logLevel.NOTHING });
  const producer: Producer = kafka.producer();
  const elasticsearch = new Client({ node: process.env.ELASTICSEARCH_URL! });
  const apps = new AppFleet(namespace);
  const feed = new NotifierFeed(producer, topics, apps, 'notifier.int-spec');
  const receivers: WebhookReceiver[] = [];
  const maxAttempts = 3;

  const operator = new WebhookReceiver();
  const operatorSecret = `whsec_${randomBytes(24).toString('base64')}`;
  let notifierEnv: NodeJS.ProcessEnv = {};
  let notifier: AppProcess;

  beforeAll(async () => {
    receivers.push(operator);
    notifierEnv = {
      WEBHOOK_URL: await operator.start(),
      WEBHOOK_SECRET: operatorSecret,
      WEBHOOK_ALLOW_PRIVATE_NETWORK: 'true',
      WEBHOOK_MAX_ATTEMPTS: String(maxAttempts),
      WEBHOOK_RETRY_INITIAL_DELAY_MS: '300',
      WEBHOOK_RETRY_MAX_DELAY_MS: '1000',
      WEBHOOK_ATTEMPT_TIMEOUT_MS: '20000',
      NOTIFIER_INSTANCE_ID: `${namespace}-notifier`,
    };
    notifier = await launchNotifier('notifier');
    await producer.connect();
  });

  afterAll(async () => {
    const exitCodes = await tearDownNamespace(apps, elasticsearch, namespace);
    await producer.disconnect();
    await Promise.all(receivers.map((receiver) => receiver.stop()));
    expect(exitCodes.every((code) => code === 0)).toBe(true);
  });

  function launchNotifier(label: string): Promise<AppProcess> {
    return apps.launch('notifier', notifierEnv, { label });
  }

  async function startReceiver(): Promise<{ receiver: WebhookReceiver; url: string }> {
    const receiver = new WebhookReceiver();
    receivers.push(receiver);
    return { receiver, url: await receiver.start() };
  }

  const webhookIdOf = (request: ReceivedWebhook) => request.headers['webhook-id'];
  const fleet = () => `fleet-${randomBytes(3).toString('hex')}`;

  it('signs each delivery so the receiver can verify it, and sends a target only the alerts its filters match', async () => {
    const [fleetA, fleetB] = [fleet(), fleet()];
    const filtered = await startReceiver();
    const everything = await startReceiver();
    const filteredTarget = await feed.addTarget(filtered.url, {
      filters: { fleetIds: [fleetA], severities: ['critical'] },
    });
    await feed.addTarget(everything.url, { filters: { fleetIds: [fleetA, fleetB] } });

    const matching = await feed.raise(fleetA, 'critical');
    const otherSeverity = await feed.raise(fleetA, 'warning');
    const otherFleet = await feed.raise(fleetB, 'critical');

    await apps.eventually(
      () => (everything.receiver.received.length >= 3 ? true : undefined),
      'three deliveries',
    );
    const delivered = await apps.eventually(() => filtered.receiver.received[0], 'the filtered delivery');
    expect(webhookIdOf(delivered)).toBe(`${matching.alertId}.active`);
    const event = JSON.parse(delivered.body) as { type: string; data: AlertMessage };
    expect(event.type).toBe('alert.active');
    expect(event.data.alertId).toBe(matching.alertId);
    const headers = delivered.headers as unknown as WebhookHeaders;
    expect(verifyWebhook(filteredTarget.secret, headers, delivered.body, new Date())).toBe(true);
    expect(
      verifyWebhook(`whsec_${randomBytes(24).toString('base64')}`, headers, delivered.body, new Date()),
    ).toBe(false);

    // The fan-out of all three alerts is on the retry topic (the catch-all target got them): only the matching one
    // was owed to the filtered target.
    const owed = (await readTopicToEnd(topics.webhookRetries, 30_000))
      .map((record) => JSON.parse(record.value.toString('utf8')) as WebhookDeliveryRecord)
      .filter((record) => record.kind === 'due' && record.targetId === filteredTarget.id);
    expect(owed.map((record) => record.webhookId)).toEqual([`${matching.alertId}.active`]);
    expect(everything.receiver.received.map(webhookIdOf).sort()).toEqual(
      [matching, otherSeverity, otherFleet].map((alert) => `${alert.alertId}.active`).sort(),
    );
    expect(filtered.receiver.received).toHaveLength(1);
  });

  it('sends a target the alerts of a rule whose actions name it, whatever its filters', async () => {
    const named = await startReceiver();
    const target = await feed.addTarget(named.url, { filters: { fleetIds: [fleet()] } });
    const fleetId = fleet();
    const unnamed = await feed.raise(fleetId, 'critical');
    const routed = await feed.raise(fleetId, 'critical', { webhookTargetIds: [target.id] });
    const delivered = await apps.eventually(
      () => named.receiver.received[0],
      'the delivery to the named target',
    );
    expect(webhookIdOf(delivered)).toBe(`${routed.alertId}.active`);
    // The operator target receives every alert: once it has both, both were fanned out.
    await apps.eventually(
      () =>
        [unnamed, routed].every((alert) =>
          operator.received.some((request) => webhookIdOf(request) === `${alert.alertId}.active`),
        ) || undefined,
      'both alerts at the operator target',
    );
    expect(named.receiver.received.map(webhookIdOf)).toEqual([`${routed.alertId}.active`]);
  });

  it('delivers every alert to the operator target configured in the environment', async () => {
    const alert = await feed.raise(fleet(), 'info');
    const webhookId = `${alert.alertId}.active`;
    const delivered = await apps.eventually(
      () => operator.received.find((request) => webhookIdOf(request) === webhookId),
      'the delivery to the operator target',
    );
    expect(
      verifyWebhook(
        operatorSecret,
        delivered.headers as unknown as WebhookHeaders,
        delivered.body,
        new Date(),
      ),
    ).toBe(true);
  });

  it('retries a receiver answering 500 and delivers once it answers 2xx, and logs every attempt in Elasticsearch', async () => {
    const { receiver, url } = await startReceiver();
    receiver.firstAnswers.push(500, 500);
    const fleetId = fleet();
    const target = await feed.addTarget(url, { filters: { fleetIds: [fleetId] } });
    const alert = await feed.raise(fleetId);
    const webhookId = `${alert.alertId}.active`;

    await apps.eventually(
      () => receiver.received.find((request) => request.answeredWith === 204),
      'the accepted attempt',
    );
    expect(receiver.received.map((request) => [webhookIdOf(request), request.answeredWith])).toEqual([
      [webhookId, 500],
      [webhookId, 500],
      [webhookId, 204],
    ]);

    const index = recordIndexNames(namespace).deliveries;
    const attempts = await apps.eventually(async () => {
      await elasticsearch.indices.refresh({ index });
      const found = await elasticsearch.search<Record<string, unknown>>({
        index,
        query: { bool: { filter: [{ term: { webhookId } }, { term: { targetId: target.id } }] } },
        sort: [{ attempt: 'asc' }],
      });
      return found.hits.hits.length === 3 ? found.hits.hits.map((hit) => hit._source!) : undefined;
    }, 'three delivery log documents');
    expect(
      attempts.map(({ attempt, result, httpStatus, alertId }) => ({ attempt, result, httpStatus, alertId })),
    ).toEqual([
      { attempt: 1, result: 'failed', httpStatus: 500, alertId: alert.alertId },
      { attempt: 2, result: 'failed', httpStatus: 500, alertId: alert.alertId },
      { attempt: 3, result: 'delivered', httpStatus: 204, alertId: alert.alertId },
    ]);
    expect(attempts.every(({ durationMs }) => typeof durationMs === 'number')).toBe(true);
  });

  it('parks a delivery its receiver never accepts, with the reason, and the redrive puts it back', async () => {
    const { receiver, url } = await startReceiver();
    receiver.respondWith = 503;
    const fleetId = fleet();
    const target = await feed.addTarget(url, { filters: { fleetIds: [fleetId] } });
    const alert = await feed.raise(fleetId);
    const webhookId = `${alert.alertId}.active`;

    const parked = await feed.parked(target.id, webhookId);
    expect(parked).toMatchObject({
      webhookId,
      targetId: target.id,
      attempts: maxAttempts,
      lastError: `HTTP 503 (after ${maxAttempts} attempts)`,
      alert: { alertId: alert.alertId },
    });
    expect(parked.history.map(({ attempt, httpStatus }) => [attempt, httpStatus])).toEqual([
      [1, 503],
      [2, 503],
      [3, 503],
    ]);
    expect(receiver.received).toHaveLength(maxAttempts);

    receiver.respondWith = 200;
    const { stdout } = await run(process.execPath, ['tools/webhooks/redrive.ts', '--target', target.id], {
      env: { ...process.env, FLEETLOG_NAMESPACE: namespace },
    });
    expect(stdout).toContain('re-drove 1 parked delivery');
    const redelivered = await apps.eventually(
      () => receiver.received.find((request) => request.answeredWith === 200),
      'the re-driven delivery',
    );
    expect(webhookIdOf(redelivered)).toBe(webhookId);
  });

  it('refuses a target that resolves to a private address without allowPrivateNetwork, parking it as ssrf', async () => {
    const { receiver, url } = await startReceiver();
    const fleetId = fleet();
    // 127.0.0.1 spelled as one decimal number: the guard must see through it.
    const disguised = url.replace('127.0.0.1', '2130706433');
    const target = await feed.addTarget(disguised, {
      filters: { fleetIds: [fleetId] },
      allowPrivateNetwork: false,
    });
    const alert = await feed.raise(fleetId);

    const parked = await feed.parked(target.id, `${alert.alertId}.active`);
    expect(parked.lastError).toBe('ssrf: 127.0.0.1 resolves to 127.0.0.1 (loopback)');
    expect(parked.attempts).toBe(1);
    expect(receiver.received).toHaveLength(0);
  });

  it('keeps delivering to other targets while one target holds its requests unanswered', async () => {
    const slow = await startReceiver();
    const fast = await startReceiver();
    slow.receiver.hold();
    const fleetId = fleet();
    await feed.addTarget(slow.url, { filters: { fleetIds: [fleetId] } });
    await feed.addTarget(fast.url, { filters: { fleetIds: [fleetId] } });

    const first = await feed.raise(fleetId);
    await apps.eventually(() => slow.receiver.received[0], 'the slow target to be sent the first alert');
    const second = await feed.raise(fleetId);
    await apps.eventually(
      () => (fast.receiver.received.length >= 2 ? true : undefined),
      'the fast target to be sent both alerts',
    );

    expect(fast.receiver.received.map(webhookIdOf)).toEqual([
      `${first.alertId}.active`,
      `${second.alertId}.active`,
    ]);
    expect(fast.receiver.received.every((request) => request.answeredWith === 204)).toBe(true);
    expect(slow.receiver.received[0]!.answeredWith).toBeUndefined();
    slow.receiver.release();
  });

  it('makes each delivery once, though the fan-out hands it to the worker before the worker reads it back', async () => {
    const { receiver, url } = await startReceiver();
    const fleetId = fleet();
    await feed.addTarget(url, { filters: { fleetIds: [fleetId] } });
    const alerts: AlertMessage[] = [];
    for (let n = 0; n < 20; n++) alerts.push(await feed.raise(fleetId));
    await apps.eventually(() => (receiver.received.length >= 20 ? true : undefined), 'twenty deliveries');
    await apps.eventually(deliveriesAllReadBack, 'the delivery worker to have read its topic to the end');
    expect(receiver.received.map(webhookIdOf).sort()).toEqual(
      alerts.map(({ alertId }) => `${alertId}.active`).sort(),
    );
  });

  /** The delivery worker has committed the whole of fleet.webhooks.retry: it read back every record written to it. */
  async function deliveriesAllReadBack(): Promise<true | undefined> {
    const admin = kafka.admin();
    await admin.connect();
    try {
      const ends = await admin.fetchTopicOffsets(topics.webhookRetries);
      const [committed] = await admin.fetchOffsets({
        groupId: consumerGroupId(namespace, 'notifier-deliveries'),
        topics: [topics.webhookRetries],
      });
      const readTo = new Map(
        committed!.partitions.map(({ partition, offset }) => [partition, Number(offset)]),
      );
      return ends.every(({ partition, high }) => (readTo.get(partition) ?? -1) >= Number(high)) || undefined;
    } finally {
      await admin.disconnect();
    }
  }

  it('attempts again, after a restart, a delivery that was in flight when the notifier crashed', async () => {
    const { receiver, url } = await startReceiver();
    receiver.hold();
    const fleetId = fleet();
    await feed.addTarget(url, { filters: { fleetIds: [fleetId] } });
    const alert = await feed.raise(fleetId);
    await apps.eventually(() => receiver.received[0], 'the attempt in flight');

    notifier.child.kill('SIGKILL');
    await notifier.exited;
    // Answered now, to a connection nobody listens on any more: the notifier never learnt the outcome.
    receiver.release();
    await launchNotifier('restarted notifier');

    const again = await apps.eventually(() => receiver.received[1], 'the attempt after the restart', 90_000);
    expect(webhookIdOf(again)).toBe(`${alert.alertId}.active`);
    expect(again.answeredWith).toBe(204);
  });
});
