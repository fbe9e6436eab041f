import { Inject, Injectable, ServiceUnavailableException } from '@nestjs/common';
import type { Logger } from 'pino';
import { APP_CONFIG, type ApiConfig } from '@fleetlog/config';
import { consumerGroupId, topicNames, type JobRecord } from '@fleetlog/contracts';
import {
  CompactedTopicTable,
  createIdempotentProducer,
  createKafka,
  TableReadBackTimeout,
} from '@fleetlog/kafka';
import { HealthRegistry, LOGGER } from '@fleetlog/observability';
import { CompactedTopicStore } from '../kafka/compacted-topic-store';

/** How long a write waits to see itself in the table before the request gives up (503). */
const readYourWriteTimeoutMs = 10_000;

/**
 * fleet.jobs, the cep jobs by version: what every cep instance runs and the notifier consults. The api writes a job's
 * record at each step of its life (replaying, promoting, live, retired, aborted); a write resolves once this
 * instance's table holds it.
 */
@Injectable()
export class JobsTopic extends CompactedTopicStore<JobRecord> {
  constructor(@Inject(APP_CONFIG) config: ApiConfig, @Inject(LOGGER) logger: Logger, health: HealthRegistry) {
    const kafka = createKafka(config.KAFKA_BROKERS, 'fleetlog-api-jobs', logger);
    const topic = topicNames(config.FLEETLOG_NAMESPACE).jobs;
    const table = new CompactedTopicTable<JobRecord>(kafka, {
      topic,
      groupPrefix: consumerGroupId(config.FLEETLOG_NAMESPACE, 'api-jobs'),
      decode: (value) => JSON.parse(value.toString('utf8')) as JobRecord,
      onRejected: (change, error) => logger.warn({ err: error, ...change, topic }, 'job record ignored'),
    });
    super(kafka, config.FLEETLOG_NAMESPACE, topic, table, createIdempotentProducer(kafka));
    health.register('jobs-table', () => table.ready);
  }

  get(version: string): JobRecord | undefined {
    return this.table.get(version);
  }

  /** Oldest first, by when they last changed. */
  list(): JobRecord[] {
    return this.table.values().sort((a, b) => a.changedAt.localeCompare(b.changedAt));
  }

  put(job: JobRecord): Promise<void> {
    return this.writeOr503(job.version, JSON.stringify(job));
  }

  /** Forgets a cleaned-up job, so its version may be used again. */
  delete(version: string): Promise<void> {
    return this.writeOr503(version, null);
  }

  private async writeOr503(key: string, value: string | null): Promise<void> {
    try {
      await this.write(key, value, readYourWriteTimeoutMs);
    } catch (error) {
      if (!(error instanceof TableReadBackTimeout)) throw error;
      throw new ServiceUnavailableException('The job was written but is not readable yet; retry the read.');
    }
  }
}
