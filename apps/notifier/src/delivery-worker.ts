import { Inject, Injectable } from '@nestjs/common';
import type { Consumer } from 'kafkajs';
import type { Logger } from 'pino';
import { APP_CONFIG, type NotifierConfig } from '@fleetlog/config';
import {
  consumerGroupId,
  type TopicNames,
  type WebhookAttempt,
  type WebhookDeadLetter,
  type WebhookDeliveryDue,
  type WebhookDeliveryRecord,
  type WebhookDeliverySettled,
} from '@fleetlog/contracts';
import { BatchingPublisher, createIdempotentProducer, type RecordPosition } from '@fleetlog/kafka';
import { HealthRegistry, LOGGER } from '@fleetlog/observability';
import { afterFailure, DeliveryLedger, type OwedDelivery, type RetrySchedule } from '@fleetlog/webhooks';
import { DeliveryLog, type DeliveryAttemptDocument } from './delivery-log';
import { NotifierKafka } from './notifier-kafka';
import { NotifierMetrics } from './notifier-metrics';
import { TargetTable } from './target-table';
import { WebhookSender, type AttemptResult } from './webhook-sender';

const pollIntervalMs = 100;
const commitIntervalMs = 1_000;

/**
 * Works off fleet.webhooks.retry: every delivery owed is attempted when due, each on its own, at most a few at a
 * time per target, so a failing or slow target delays neither the others nor later alerts. An attempt's outcome is
 * written back before the delivery is let go: the next attempt (due after a jittered backoff), or `settled` when it
 * was delivered or parked on fleet.webhooks.dlq. Offsets are committed up to the oldest delivery still owed (see
 * DeliveryLedger for the guarantee).
 */
@Injectable()
export class DeliveryWorker {
  private readonly topics: TopicNames;
  private readonly consumer: Consumer;
  private readonly publisher: BatchingPublisher;
  private readonly ledger = new DeliveryLedger();
  private readonly schedule: RetrySchedule;
  private readonly sender = new WebhookSender();
  private readonly attempts = new Set<Promise<void>>();
  private readonly committed = new Map<number, bigint>();
  private assigned = new Set<number>();
  private poller: NodeJS.Timeout | undefined;
  private committer: NodeJS.Timeout | undefined;
  private joined = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: NotifierConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    { kafka, topics }: NotifierKafka,
    private readonly targets: TargetTable,
    private readonly deliveryLog: DeliveryLog,
    private readonly metrics: NotifierMetrics,
    health: HealthRegistry,
  ) {
    this.topics = topics;
    this.schedule = {
      maxAttempts: config.WEBHOOK_MAX_ATTEMPTS,
      initialDelayMs: config.WEBHOOK_RETRY_INITIAL_DELAY_MS,
      maxDelayMs: config.WEBHOOK_RETRY_MAX_DELAY_MS,
    };
    // Outcomes of concurrent attempts share produce requests: one request per outcome, one at a time, had the
    // idempotent producer's single request in flight pace the deliveries once the broker answered slowly.
    this.publisher = new BatchingPublisher(
      () => createIdempotentProducer(kafka),
      { lingerMs: 0, maxBatchRecords: 1_000, retry: { initialMs: 200, maxMs: 5_000 } },
      logger,
    );
    this.consumer = kafka.consumer({
      groupId: consumerGroupId(config.FLEETLOG_NAMESPACE, 'notifier-deliveries'),
      maxWaitTimeInMs: 50,
      retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 300, maxRetryTime: 10_000 },
    });
    // Every (re)join makes kafkajs fetch each assigned partition from its committed offset again.
    this.consumer.on(this.consumer.events.GROUP_JOIN, ({ payload }) => {
      const assigned = new Set(payload.memberAssignment[topics.webhookRetries] ?? []);
      for (const partition of this.assigned) if (!assigned.has(partition)) this.ledger.revoke(partition);
      for (const partition of assigned) this.ledger.restart(partition);
      this.assigned = assigned;
      this.committed.clear();
      this.joined = true;
      this.logger.info({ partitions: [...assigned] }, 'delivery partitions assigned');
    });
    this.consumer.on(this.consumer.events.CRASH, () => (this.joined = false));
    // Every fetched batch, also one holding only transaction markers (which eachBatch never sees).
    this.consumer.on(this.consumer.events.END_BATCH_PROCESS, ({ payload }) =>
      this.ledger.advance(payload.partition, BigInt(payload.lastOffset) + 1n, BigInt(payload.highWatermark)),
    );
    health.register('deliveries-consumer', () => this.joined);
  }

  async start(): Promise<void> {
    await this.publisher.connect();
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [this.topics.webhookRetries], fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const message of batch.messages) {
          if (!message.key || !message.value) continue;
          const record = JSON.parse(message.value.toString('utf8')) as WebhookDeliveryRecord;
          this.ledger.read(batch.partition, BigInt(message.offset), message.key.toString('utf8'), record);
        }
        // A new delivery is due at once: waiting for the poller would add up to its interval to every webhook.
        this.attemptDue();
      },
    });
    this.poller = setInterval(() => this.attemptDue(), pollIntervalMs);
    this.committer = setInterval(() => void this.commit(), commitIntervalMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.poller);
    clearInterval(this.committer);
    await Promise.all(this.attempts);
    await this.commit();
    await this.consumer.disconnect();
    await this.publisher.close();
    this.sender.close();
  }

  /**
   * Deliveries the fan-out has just committed to fleet.webhooks.retry, handed over instead of read back: one Kafka
   * fetch less between an alert and its webhook. Only those on partitions this worker owns; the owner of any other
   * reads them. Reading one of them again later changes nothing (the ledger knows its offset), nor does handing over
   * one the reading got to first.
   */
  owe(deliveries: Array<RecordPosition & { key: string; value: string }>): void {
    for (const { partition, offset, key, value } of deliveries) {
      if (this.assigned.has(partition))
        this.ledger.handOver(partition, offset, key, JSON.parse(value) as WebhookDeliveryRecord);
    }
    this.attemptDue();
  }

  private attemptDue(): void {
    for (const delivery of this.ledger.takeDue(new Date(), this.config.WEBHOOK_MAX_IN_FLIGHT_PER_TARGET)) {
      const attempt = this.attempt(delivery).catch((error: unknown) => {
        this.logger.error({ err: error, key: delivery.key }, 'delivery outcome not stored; attempted again');
        this.ledger.release(delivery);
      });
      this.attempts.add(attempt);
      void attempt.finally(() => this.attempts.delete(attempt));
    }
    this.metrics.retryQueueDepth.set(this.ledger.size);
  }

  private async attempt(delivery: OwedDelivery): Promise<void> {
    const { due } = delivery;
    const target = this.targets.get(due.targetId);
    if (!target?.enabled) {
      this.logger.info(
        { targetId: due.targetId, webhookId: due.webhookId },
        'target gone or disabled: discarded',
      );
      this.ledger.answered(delivery);
      await this.settle(delivery, 'discarded');
      return;
    }
    const startedAt = new Date();
    const result = await this.sender.send(
      {
        url: target.url,
        secret: target.secret,
        allowPrivateNetwork: target.allowPrivateNetwork,
        webhookId: due.webhookId,
        body: JSON.stringify({
          type: `alert.${due.alert.status}`,
          timestamp: startedAt.toISOString(),
          data: due.alert,
        }),
      },
      this.config.WEBHOOK_ATTEMPT_TIMEOUT_MS,
    );
    // The target is free for its next delivery while this one's outcome is stored.
    this.ledger.answered(delivery);
    this.attemptDue();
    const attempt = attemptOf(due.attempt, startedAt, Date.now() - startedAt.getTime(), result);
    this.metrics.attemptSeconds.observe({ result: result.outcome }, attempt.durationMs / 1000);
    if (result.outcome === 'delivered') {
      this.deliveryLog.record(logDocument(due, attempt, result.outcome, false));
      await this.settle(delivery, 'delivered');
      return;
    }
    const next = afterFailure(
      due.attempt,
      { kind: result.outcome, reason: result.error },
      this.schedule,
      new Date(),
    );
    this.deliveryLog.record(logDocument(due, attempt, result.outcome, next.kind === 'park'));
    const history = [...due.history, attempt];
    const context = {
      webhookId: due.webhookId,
      targetId: due.targetId,
      attempt: due.attempt,
      error: result.error,
    };
    if (next.kind === 'retry') {
      this.logger.warn({ ...context, retryAt: next.dueAt }, 'webhook attempt failed');
      await this.writeBack(delivery, {
        ...due,
        attempt: next.attempt,
        dueAt: next.dueAt.toISOString(),
        history,
      });
      return;
    }
    const parked: WebhookDeadLetter = {
      webhookId: due.webhookId,
      targetId: due.targetId,
      url: target.url,
      attempts: due.attempt,
      lastError: next.reason,
      parkedAt: new Date().toISOString(),
      history,
      alert: due.alert,
    };
    await this.publisher.publish({
      topic: this.topics.webhookDeadLetters,
      key: delivery.key,
      value: JSON.stringify(parked),
    });
    this.logger.warn({ ...context, reason: next.reason }, 'webhook delivery parked');
    await this.settle(delivery, 'parked');
  }

  private async settle(delivery: OwedDelivery, outcome: WebhookDeliverySettled['outcome']): Promise<void> {
    const { webhookId, targetId } = delivery.due;
    await this.writeBack(delivery, {
      kind: 'settled',
      webhookId,
      targetId,
      outcome,
      settledAt: new Date().toISOString(),
    });
    this.metrics.deliveries.inc({ outcome });
  }

  /**
   * Stores the delivery's next state beside its earlier records (the partition it was read from: the key's), then
   * lets the in-flight attempt go.
   */
  private async writeBack(delivery: OwedDelivery, record: WebhookDeliveryRecord): Promise<void> {
    const offset = await this.publisher.publishAt({
      topic: this.topics.webhookRetries,
      partition: delivery.partition,
      key: delivery.key,
      value: JSON.stringify(record),
    });
    this.ledger.settle(delivery, offset);
  }

  private async commit(): Promise<void> {
    const offsets = [...this.ledger.commitOffsets()].filter(
      ([partition, offset]) => this.committed.get(partition) !== offset,
    );
    if (offsets.length === 0) return;
    try {
      await this.consumer.commitOffsets(
        offsets.map(([partition, offset]) => ({
          topic: this.topics.webhookRetries,
          partition,
          offset: offset.toString(),
        })),
      );
      for (const [partition, offset] of offsets) this.committed.set(partition, offset);
    } catch (error) {
      // The next tick commits again; until then a restart re-reads a little more, which the ledger absorbs.
      this.logger.warn({ err: error }, 'delivery offsets not committed');
    }
  }
}

function attemptOf(number: number, at: Date, durationMs: number, result: AttemptResult): WebhookAttempt {
  return {
    attempt: number,
    at: at.toISOString(),
    ...(result.outcome !== 'refused' && result.httpStatus !== undefined
      ? { httpStatus: result.httpStatus }
      : {}),
    ...(result.outcome !== 'delivered' ? { error: result.error } : {}),
    durationMs,
  };
}

function logDocument(
  due: WebhookDeliveryDue,
  attempt: WebhookAttempt,
  result: AttemptResult['outcome'],
  parked: boolean,
): DeliveryAttemptDocument {
  return {
    '@timestamp': attempt.at,
    targetId: due.targetId,
    webhookId: due.webhookId,
    alertId: due.alert.alertId,
    alertStatus: due.alert.status,
    fleetId: due.alert.fleetId,
    ruleId: due.alert.ruleId,
    attempt: due.attempt,
    result,
    parked,
    httpStatus: attempt.httpStatus,
    error: attempt.error,
    durationMs: attempt.durationMs,
  };
}
