import { randomBytes, randomUUID } from 'node:crypto';
import type { Producer } from 'kafkajs';
import {
  webhookDeliveryKey,
  type AlertMessage,
  type AlertSeverity,
  type TopicNames,
  type WebhookDeadLetter,
  type WebhookTarget,
} from '@fleetlog/contracts';
import type { AppFleet } from './app-fleet';
import { readTopic } from './kafka-reader';

/**
 * A test in the place of cep and the api, for a notifier running alone: writes alerts to fleet.alerts and targets to
 * fleet.webhooks.targets, and reads back what the notifier parked on fleet.webhooks.dlq.
 */
export class NotifierFeed {
  constructor(
    private readonly producer: Producer,
    private readonly topics: TopicNames,
    private readonly apps: AppFleet,
    /** Who the targets say changed them. */
    private readonly changedBy: string,
  ) {}

  /** Writes a target for receivers on loopback, and waits until the notifier has read it. */
  async addTarget(url: string, overrides: Partial<WebhookTarget> = {}): Promise<WebhookTarget> {
    const target: WebhookTarget = {
      id: randomUUID(),
      url,
      secret: `whsec_${randomBytes(24).toString('base64')}`,
      enabled: true,
      filters: {},
      allowPrivateNetwork: true,
      changedBy: this.changedBy,
      changedAt: new Date().toISOString(),
      ...overrides,
    };
    await this.producer.send({
      topic: this.topics.webhookTargets,
      messages: [{ key: target.id, value: JSON.stringify(target) }],
    });
    await this.apps.eventually(
      () =>
        this.apps.output.find((line) => line.includes(target.id) && line.includes('webhook target changed')),
      `the notifier to read target ${target.id}`,
    );
    return target;
  }

  /** An overspeed alert of the fleet, as cep would raise it. */
  async raise(
    fleetId: string,
    severity: AlertSeverity = 'critical',
    overrides: Partial<AlertMessage> = {},
  ): Promise<AlertMessage> {
    const alert: AlertMessage = {
      alertId: randomBytes(8).toString('hex'),
      status: 'active',
      ruleId: 'overspeed',
      ruleVersion: 1,
      ruleName: 'Overspeed',
      severity,
      vehicleId: 'veh-1',
      fleetId,
      message: 'speed above 120 km/h for 10 s',
      startedAt: new Date(Date.now() - 10_000).toISOString(),
      raisedAt: new Date().toISOString(),
      facts: { speedKph: 131 },
      lineage: [{ topic: this.topics.telemetry, partition: 0, offset: '42' }],
      ...overrides,
    };
    await this.producer.send({
      topic: this.topics.alerts,
      messages: [{ key: alert.alertId, value: JSON.stringify(alert) }],
    });
    return alert;
  }

  /** The dead letter of the delivery to the target, once the notifier has parked it. */
  async parked(targetId: string, webhookId: string): Promise<WebhookDeadLetter> {
    const key = webhookDeliveryKey(targetId, webhookId);
    const records = await readTopic(
      this.topics.webhookDeadLetters,
      (read) => read.some((record) => record.key === key),
      30_000,
    );
    const record = records.find((read) => read.key === key);
    if (!record) throw new Error(`no dead letter for ${key}\n${this.apps.recentOutput()}`);
    return JSON.parse(record.value.toString('utf8')) as WebhookDeadLetter;
  }
}
