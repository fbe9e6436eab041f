import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Producer } from 'kafkajs';
import type { Logger } from 'pino';
import { Counter, Registry } from 'prom-client';
import { APP_CONFIG, type NotifierConfig } from '@fleetlog/config';
import {
  consumerGroupId,
  topicNames,
  type AlertMessage,
  type TopicNames,
  type WebhookDeadLetter,
} from '@fleetlog/contracts';
import {
  BatchConsumer,
  createIdempotentProducer,
  createKafka,
  ensureTopics,
  type ConsumedRecord,
} from '@fleetlog/kafka';
import { HealthRegistry, LOGGER } from '@fleetlog/observability';
import { backoffDelay, sleep } from '@fleetlog/resilience';
import { sendWebhook } from './webhook-sender';

/**
 * fleet.alerts → signed webhook. Runs apart from cep so a slow receiver never stalls rule evaluation. A delivery is
 * retried with backoff and jitter; after the last attempt it is parked on fleet.webhooks.dlq, never dropped. The
 * offset moves on only after the alert was delivered or parked.
 */
@Injectable()
export class AlertNotifier implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly topics: TopicNames;
  private readonly kafka;
  private readonly consumer: BatchConsumer;
  private readonly producer: Producer;
  private readonly deliveries: Counter<'outcome'>;

  constructor(
    @Inject(APP_CONFIG) private readonly config: NotifierConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    health: HealthRegistry,
    metrics: Registry,
  ) {
    this.topics = topicNames(config.FLEETLOG_NAMESPACE);
    this.kafka = createKafka(config.KAFKA_BROKERS, 'fleetlog-notifier', logger);
    this.consumer = new BatchConsumer(this.kafka, {
      groupId: consumerGroupId(config.FLEETLOG_NAMESPACE, 'notifier'),
      topics: [this.topics.alerts],
      fromBeginning: true,
      maxWaitTimeInMs: 50,
    });
    this.producer = createIdempotentProducer(this.kafka);
    health.register('kafka-consumer', () => this.consumer.ready);
    this.deliveries = new Counter({
      name: 'fleetlog_notifier_webhook_deliveries_total',
      help: 'Webhook deliveries by outcome (delivered, parked, skipped)',
      labelNames: ['outcome'],
      registers: [metrics],
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    await ensureTopics(this.kafka, this.topics);
    await this.producer.connect();
    await this.consumer.start((records, heartbeat) => this.notify(records, heartbeat));
    this.logger.info({ webhook: this.config.WEBHOOK_URL ?? '(none configured)' }, 'notifying alerts');
  }

  async onApplicationShutdown(): Promise<void> {
    await this.consumer.stop();
    await this.producer.disconnect();
  }

  private async notify(records: ConsumedRecord[], heartbeat: () => Promise<void>): Promise<void> {
    for (const record of records) {
      const alert = JSON.parse(record.value.toString('utf8')) as AlertMessage;
      const { WEBHOOK_URL: url, WEBHOOK_SECRET: secret } = this.config;
      if (!url || !secret) {
        this.deliveries.inc({ outcome: 'skipped' });
        continue;
      }
      await this.deliver(url, secret, alert, heartbeat);
    }
  }

  private async deliver(
    url: string,
    secret: string,
    alert: AlertMessage,
    heartbeat: () => Promise<void>,
  ): Promise<void> {
    // One alert produces two events (raised, cleared); receivers deduplicate on this id.
    const webhookId = `${alert.alertId}.${alert.status}`;
    const body = JSON.stringify({
      type: `alert.${alert.status}`,
      timestamp: new Date().toISOString(),
      data: alert,
    });
    let reason = '';
    for (let attempt = 1; attempt <= this.config.WEBHOOK_MAX_ATTEMPTS; attempt++) {
      const result = await sendWebhook(url, secret, webhookId, body);
      if (result.delivered) {
        this.deliveries.inc({ outcome: 'delivered' });
        return;
      }
      reason = result.reason;
      this.logger.warn({ webhookId, attempt, reason }, 'webhook delivery failed');
      if (attempt < this.config.WEBHOOK_MAX_ATTEMPTS) {
        await sleep(backoffDelay(attempt, { initialMs: 500, maxMs: 20_000 }));
        await heartbeat();
      }
    }
    const parked: WebhookDeadLetter = {
      webhookId,
      url,
      attempts: this.config.WEBHOOK_MAX_ATTEMPTS,
      lastError: reason,
      parkedAt: new Date().toISOString(),
      alert,
    };
    await this.producer.send({
      topic: this.topics.webhookDeadLetters,
      acks: -1,
      messages: [{ key: webhookId, value: JSON.stringify(parked) }],
    });
    this.deliveries.inc({ outcome: 'parked' });
  }
}
