import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { APP_CONFIG, type ApiConfig } from '@fleetlog/config';
import type { JobRecord } from '@fleetlog/contracts';
import { HealthRegistry, LOGGER } from '@fleetlog/observability';
import { CompactedTopicStore } from '../kafka/compacted-topic-store';

/**
 * fleet.jobs, the cep jobs by version: what every cep instance runs and the notifier consults. The api writes a job's
 * record at each step of its life (replaying, promoting, live, retired, aborted); a write resolves once this
 * instance's table holds it.
 */
@Injectable()
export class JobsTopic extends CompactedTopicStore<JobRecord> {
  constructor(@Inject(APP_CONFIG) config: ApiConfig, @Inject(LOGGER) logger: Logger, health: HealthRegistry) {
    super(config, logger, health, {
      topic: 'jobs',
      name: 'jobs',
      decode: (value) => JSON.parse(value.toString('utf8')) as JobRecord,
    });
  }

  get(version: string): JobRecord | undefined {
    return this.table.get(version);
  }

  /** Oldest first, by when they last changed. */
  list(): JobRecord[] {
    return this.table.values().sort((a, b) => a.changedAt.localeCompare(b.changedAt));
  }

  put(job: JobRecord): Promise<void> {
    return this.writeOrUnavailable(job.version, JSON.stringify(job));
  }

  /** Forgets a cleaned-up job, so its version may be used again. */
  delete(version: string): Promise<void> {
    return this.writeOrUnavailable(version, null);
  }
}
