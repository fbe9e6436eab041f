import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { APP_CONFIG, type NotifierConfig } from '@fleetlog/config';
import {
  consumerGroupId,
  webhookDeliveryKey,
  type AlertMessage,
  type TopicNames,
  type WebhookDeliveryDue,
} from '@fleetlog/contracts';
import {
  BatchConsumer,
  createTransactionalProducer,
  partitionCount,
  partitionOfKey,
  type ConsumedRecord,
  type OutboundRecord,
} from '@fleetlog/kafka';
import { exitForRestart, HealthRegistry, LOGGER } from '@fleetlog/observability';
import { sleep } from '@fleetlog/resilience';
import { DeliveryWorker } from './delivery-worker';
import { JobTable } from './job-table';
import { NotifierKafka } from './notifier-kafka';
import { TargetTable } from './target-table';

/** How often an alert whose job is being promoted looks again at the job table. */
const jobWaitMs = 200;

/**
 * fleet.alerts → one delivery owed per (alert transition, target whose filters match) on fleet.webhooks.retry, due at
 * once. No HTTP here: the deliveries and the alert offsets are committed in one Kafka transaction, so a crash neither
 * loses a delivery nor owes it twice, and no receiver, however slow, holds up the alerts behind. Once committed, the
 * deliveries go straight to this notifier's delivery worker, which need not wait to read them back.
 */
@Injectable()
export class AlertFanOut {
  private readonly topics: TopicNames;
  private readonly consumer: BatchConsumer;
  private readonly kafka: NotifierKafka['kafka'];
  private deliveryPartitions = 0;

  constructor(
    @Inject(APP_CONFIG) config: NotifierConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    { kafka, topics }: NotifierKafka,
    private readonly targets: TargetTable,
    private readonly jobs: JobTable,
    worker: DeliveryWorker,
    health: HealthRegistry,
  ) {
    this.topics = topics;
    this.kafka = kafka;
    const groupId = consumerGroupId(config.FLEETLOG_NAMESPACE, 'notifier');
    this.consumer = new BatchConsumer(kafka, {
      groupId,
      topics: [topics.alerts],
      fromBeginning: true,
      maxWaitTimeInMs: 50,
      transactionalProducer: () =>
        createTransactionalProducer(kafka, `${groupId}-${config.NOTIFIER_INSTANCE_ID}`),
      onCommitted: (deliveries) => worker.owe(deliveries),
      onStuck: exitForRestart(logger, 'the alerts consumer cannot go on'),
    });
    health.register('alerts-consumer', () => this.consumer.ready);
    health.register('webhook-targets', () => targets.ready);
    health.register('jobs', () => jobs.ready);
  }

  /** Call once the target table is loaded: alerts are matched against the whole table. */
  async start(): Promise<void> {
    // Deliveries are placed where the key's default partition is, for the worker to know where they were stored.
    this.deliveryPartitions = await partitionCount(this.kafka, this.topics.webhookRetries);
    await this.consumer.start(async (records, heartbeat) => {
      const owed: OutboundRecord[] = [];
      for (const record of records) owed.push(...(await this.fanOut(record, heartbeat)));
      return owed;
    });
  }

  async stop(): Promise<void> {
    await this.consumer.stop();
  }

  /**
   * The deliveries an alert transition owes. A replay's transitions owe none; a job being promoted holds the
   * partition until the promotion has settled which job notifies what (see `notificationDecision`).
   */
  private async fanOut(record: ConsumedRecord, heartbeat: () => Promise<void>): Promise<OutboundRecord[]> {
    const alert = JSON.parse(record.value.toString('utf8')) as AlertMessage;
    let decision = this.jobs.decide(alert);
    while (decision === 'wait') {
      await sleep(jobWaitMs);
      await heartbeat();
      decision = this.jobs.decide(alert);
    }
    if (decision === 'skip') {
      this.logger.debug(
        { alertId: alert.alertId, job: alert.jobVersion },
        'alert not notified: not the live job’s',
      );
      return [];
    }
    // One alert produces two events (raised, cleared); receivers deduplicate on this id.
    const webhookId = `${alert.alertId}.${alert.status}`;
    const receivers = this.targets.receiversOf(alert);
    this.logger.debug({ webhookId, targets: receivers.map(({ id }) => id) }, 'alert fanned out');
    return receivers.map((target): OutboundRecord => {
      const due: WebhookDeliveryDue = {
        kind: 'due',
        webhookId,
        targetId: target.id,
        attempt: 1,
        dueAt: new Date().toISOString(),
        history: [],
        alert,
      };
      const key = webhookDeliveryKey(target.id, webhookId);
      return {
        topic: this.topics.webhookRetries,
        key,
        value: JSON.stringify(due),
        partition: partitionOfKey(key, this.deliveryPartitions),
      };
    });
  }
}
