import { Inject, Injectable } from '@nestjs/common';
import { Client } from '@elastic/elasticsearch';
import type { Logger } from 'pino';
import { APP_CONFIG, type NotifierConfig } from '@fleetlog/config';
import {
  BulkWriter,
  elasticsearchAnswers,
  provisionRecordIndices,
  recordIndexNames,
  type DocumentWrite,
} from '@fleetlog/elasticsearch';
import { HealthRegistry, LOGGER } from '@fleetlog/observability';
import { NotifierMetrics } from './notifier-metrics';

/** One document per attempt, in the `deliveries` record index. */
export interface DeliveryAttemptDocument {
  '@timestamp': string;
  targetId: string;
  webhookId: string;
  alertId: string;
  alertStatus: string;
  fleetId: string;
  ruleId: string;
  attempt: number;
  result: 'delivered' | 'failed' | 'refused';
  /** Set on the attempt that ended the delivery by parking it. */
  parked: boolean;
  httpStatus?: number;
  error?: string;
  durationMs: number;
}

const flushIntervalMs = 500;

/**
 * The searchable delivery log: attempts are buffered briefly and written in bulk. Writing it never holds up a
 * delivery: a document Elasticsearch does not take is counted and logged, not retried forever.
 */
@Injectable()
export class DeliveryLog {
  private readonly client: Client;
  private readonly writer: BulkWriter;
  private readonly namespace: string;
  private readonly index: string;
  private buffer: DocumentWrite[] = [];
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    @Inject(APP_CONFIG) config: NotifierConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly metrics: NotifierMetrics,
    health: HealthRegistry,
  ) {
    this.client = new Client({ node: config.ELASTICSEARCH_URL });
    this.writer = new BulkWriter(this.client, { maxAttempts: 5, backoff: { initialMs: 200, maxMs: 5_000 } });
    this.namespace = config.FLEETLOG_NAMESPACE;
    // What happened, not derived from the log: no replay rebuilds it, so the index is not versioned.
    this.index = recordIndexNames(config.FLEETLOG_NAMESPACE).deliveries;
    health.register('elasticsearch', () => elasticsearchAnswers(this.client));
  }

  async start(): Promise<void> {
    await provisionRecordIndices(this.client, this.namespace, ['deliveries']);
    this.timer = setInterval(() => this.flush(), flushIntervalMs);
  }

  record(document: DeliveryAttemptDocument): void {
    // Attempt numbers repeat (an attempt repeated after a crash, a re-driven delivery): the time tells them apart.
    const id = `${document.targetId}/${document.webhookId}/${document.attempt}/${document['@timestamp']}`;
    this.buffer.push({ index: this.index, id, document, action: 'create' });
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.flush();
    await this.writing;
    await this.client.close();
  }

  private flush(): void {
    if (this.buffer.length === 0) return;
    const writes = this.buffer;
    this.buffer = [];
    this.writing = this.writing.then(() => this.write(writes));
  }

  private async write(writes: DocumentWrite[]): Promise<void> {
    try {
      const rejected = await this.writer.write(writes);
      for (const { write, reason } of rejected) {
        this.logger.warn({ id: write.id, reason }, 'delivery log document refused');
      }
      this.metrics.deliveryLogFailures.inc(rejected.length);
    } catch (error) {
      this.logger.warn({ err: error, documents: writes.length }, 'delivery log documents not stored');
      this.metrics.deliveryLogFailures.inc(writes.length);
    }
  }
}
