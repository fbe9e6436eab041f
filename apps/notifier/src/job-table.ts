import { Inject, Injectable } from '@nestjs/common';
import type { Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import { APP_CONFIG, type NotifierConfig } from '@fleetlog/config';
import { consumerGroupId, type AlertMessage, type JobRecord } from '@fleetlog/contracts';
import { notificationDecision, type NotificationDecision } from '@fleetlog/jobs';
import { CompactedTopicTable } from '@fleetlog/kafka';
import { LOGGER } from '@fleetlog/observability';

/** fleet.jobs, followed live: which job's alerts are notified, and from which log position (`notificationDecision`). */
@Injectable()
export class JobTable {
  private table: CompactedTopicTable<JobRecord> | undefined;
  private jobs = new Map<string, JobRecord>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: NotifierConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  get ready(): boolean {
    return this.table?.ready ?? false;
  }

  async load(kafka: Kafka, topic: string): Promise<void> {
    this.table = new CompactedTopicTable<JobRecord>(kafka, {
      topic,
      groupPrefix: consumerGroupId(this.config.FLEETLOG_NAMESPACE, 'notifier-jobs'),
      decode: (value) => JSON.parse(value.toString('utf8')) as JobRecord,
      onChange: ({ key, value }) => {
        this.logger.info({ job: key, state: value?.state ?? 'deleted' }, 'job changed');
        this.refresh();
      },
      onRejected: ({ key }, error) => this.logger.error({ job: key, err: error }, 'job record refused'),
    });
    await this.table.start();
    this.refresh();
  }

  decide(alert: AlertMessage): NotificationDecision {
    return notificationDecision(alert, this.jobs);
  }

  async stop(): Promise<void> {
    await this.table?.stop();
  }

  private refresh(): void {
    this.jobs = new Map(this.table!.values().map((job) => [job.version, job]));
  }
}
