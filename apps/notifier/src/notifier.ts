import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Logger } from 'pino';
import { ensureTopics } from '@fleetlog/kafka';
import { LOGGER } from '@fleetlog/observability';
import { AlertFanOut } from './alert-fan-out';
import { DeliveryLog } from './delivery-log';
import { DeliveryWorker } from './delivery-worker';
import { JobTable } from './job-table';
import { NotifierKafka } from './notifier-kafka';
import { TargetTable } from './target-table';

/** Starts the parts in the order they depend on each other, and stops them the other way round. */
@Injectable()
export class Notifier implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly kafka: NotifierKafka,
    private readonly targets: TargetTable,
    private readonly jobs: JobTable,
    private readonly deliveryLog: DeliveryLog,
    private readonly worker: DeliveryWorker,
    private readonly fanOut: AlertFanOut,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await ensureTopics(this.kafka.kafka, this.kafka.topics);
    await this.deliveryLog.start();
    await this.targets.load(this.kafka.kafka, this.kafka.topics.webhookTargets);
    await this.jobs.load(this.kafka.kafka, this.kafka.topics.jobs);
    await this.worker.start();
    await this.fanOut.start();
    this.logger.info('notifying alerts');
  }

  async onApplicationShutdown(): Promise<void> {
    await this.fanOut.stop();
    await this.worker.stop();
    await this.jobs.stop();
    await this.targets.stop();
    await this.deliveryLog.stop();
  }
}
