import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { Client } from '@elastic/elasticsearch';
import type { Producer } from 'kafkajs';
import type { Logger } from 'pino';
import { Counter, Histogram, Registry } from 'prom-client';
import { StreamProcessor, type ProcessedBatch } from '@fleetlog/cep';
import type { AlertMessage, DocumentDeadLetter } from '@fleetlog/contracts';
import { APP_CONFIG, type CepConfig } from '@fleetlog/config';
import { consumerGroupId, topicNames } from '@fleetlog/contracts';
import {
  BulkWriter,
  datasetNames,
  elasticsearchAnswers,
  provisionIndices,
  type RejectedWrite,
} from '@fleetlog/elasticsearch';
import {
  BatchConsumer,
  createKafka,
  createTransactionalProducer,
  ensureTopics,
  type ConsumedRecord,
  type OutboundRecord,
  type PartitionStateHooks,
  type TopicPartition,
} from '@fleetlog/kafka';
import { HealthRegistry, LOGGER } from '@fleetlog/observability';
import type { Rule } from '@fleetlog/rules';
import { RuleCatalog } from './rule-catalog';

/**
 * fleet.telemetry → StreamProcessor → Elasticsearch and fleet.alerts. A batch's documents are stored first (ids
 * make rewriting harmless); then its alerts and its offset commit go in one Kafka transaction, the commit carrying
 * a checkpoint that says where a new owner of the partition must re-read from to rebuild windows, timers and alert
 * state. Re-read records below the committed offset only rebuild state, so a crash or rebalance neither skips nor
 * repeats an alert.
 */
@Injectable()
export class TelemetryPipeline implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly topics;
  private readonly kafka;
  private readonly elasticsearch: Client;
  private readonly consumer: BatchConsumer;
  private readonly producer: Producer;
  private readonly writer: BulkWriter;
  private readonly catalog: RuleCatalog;
  private processor: StreamProcessor | undefined;
  private clock: NodeJS.Timeout | undefined;
  private readonly consumed: Counter;
  private readonly late: Counter;
  private readonly parked: Counter<'index'>;
  private readonly alertsRaised: Counter<'severity' | 'status'>;
  private readonly batchSeconds: Histogram;

  constructor(
    @Inject(APP_CONFIG) private readonly config: CepConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    health: HealthRegistry,
    metrics: Registry,
  ) {
    this.topics = topicNames(config.FLEETLOG_NAMESPACE);
    this.kafka = createKafka(config.KAFKA_BROKERS, `fleetlog-cep-${config.CEP_JOB_VERSION}`, logger);
    this.elasticsearch = new Client({ node: config.ELASTICSEARCH_URL });
    this.writer = new BulkWriter(this.elasticsearch, {
      maxAttempts: 8,
      backoff: { initialMs: 200, maxMs: 10_000 },
    });
    const groupId = consumerGroupId(config.FLEETLOG_NAMESPACE, `cep-${config.CEP_JOB_VERSION}`);
    this.producer = createTransactionalProducer(this.kafka, `${groupId}-${config.CEP_INSTANCE_ID}`);
    this.consumer = new BatchConsumer(this.kafka, {
      groupId,
      topics: [this.topics.telemetry],
      fromBeginning: true,
      maxWaitTimeInMs: 50,
      partitionState: this.partitionState(),
      transactionalProducer: this.producer,
    });
    this.catalog = new RuleCatalog(
      this.kafka,
      this.topics.rules,
      `${groupId}-rules`,
      logger,
      metrics,
      (rules) => void this.applyRules(rules),
    );

    health.register('kafka-consumer', () => this.consumer.ready);
    health.register('elasticsearch', () => elasticsearchAnswers(this.elasticsearch));
    const registers = [metrics];
    this.consumed = new Counter({
      name: 'fleetlog_cep_records_total',
      help: 'Telemetry records processed',
      registers,
    });
    this.late = new Counter({
      name: 'fleetlog_cep_late_records_total',
      help: 'Telemetry records older than their partition watermark: indexed, left out of windows and rules',
      registers,
    });
    this.parked = new Counter({
      name: 'fleetlog_cep_documents_parked_total',
      help: 'Documents Elasticsearch refused for good, parked on fleet.documents.dlq',
      labelNames: ['index'],
      registers,
    });
    this.alertsRaised = new Counter({
      name: 'fleetlog_cep_alert_transitions_total',
      help: 'Alert transitions emitted',
      labelNames: ['severity', 'status'],
      registers,
    });
    this.batchSeconds = new Histogram({
      name: 'fleetlog_cep_batch_seconds',
      help: 'From batch fetched to stored and alerts acknowledged',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers,
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    const { FLEETLOG_NAMESPACE: namespace, CEP_JOB_VERSION: version, RULES_DIR: rulesDir } = this.config;
    await ensureTopics(this.kafka, this.topics);
    const rules = await this.catalog.start(rulesDir);
    const indices = datasetNames(namespace, version);
    this.processor = new StreamProcessor(rules, {
      indices,
      allowedLatenessMs: this.config.CEP_ALLOWED_LATENESS_MS,
      aggregateWindowMs: this.config.CEP_AGGREGATE_WINDOW_MS,
      maxRebuildMs: this.config.CEP_MAX_REBUILD_MS,
    });
    await provisionIndices(this.elasticsearch, namespace, version);
    await this.producer.connect();
    await this.consumer.start((records) => this.handle(records));
    this.clock = setInterval(
      () => this.tick().catch((error) => this.logger.error({ err: error }, 'clock tick failed')),
      this.config.CEP_CLOCK_TICK_MS,
    );
    this.logger.info(
      {
        rules: rules.map((rule) => `${rule.id}@${rule.version}`),
        indices,
        lookbackMs: this.processor.lookbackMs,
      },
      'evaluating telemetry',
    );
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.clock);
    await this.catalog.stop();
    await this.consumer.stop();
    await this.producer.disconnect();
    await this.elasticsearch.close();
  }

  private partitionState(): PartitionStateHooks {
    return {
      assigned: ({ partition }, offset, metadata) => {
        const rebuildFrom = this.processor!.assign(partition, offset, metadata);
        this.logger.info({ partition, committed: offset, rebuildFrom }, 'partition assigned');
        return rebuildFrom;
      },
      revoked: ({ partition }) => this.processor!.revoke(partition),
      checkpoint: ({ partition }) => this.processor!.checkpoint(partition),
    };
  }

  private async handle(records: ConsumedRecord[]): Promise<OutboundRecord[]> {
    const timer = this.batchSeconds.startTimer();
    const processed = this.processor!.process(records);
    for (const record of processed.unreadable) {
      this.logger.error(
        { partition: record.partition, offset: record.offset },
        'unreadable telemetry record skipped',
      );
    }
    const rejected = await this.writer.write(processed.writes);
    this.consumed.inc(records.length);
    this.late.inc(processed.late);
    timer();
    return [...this.announce(processed.alerts), ...this.park(rejected)];
  }

  /** Wall-clock time passing for partitions with nothing left to read: absence alerts, closing windows. */
  private async tick(): Promise<void> {
    await this.consumer.exclusive(async () => {
      const caughtUp = this.consumer.caughtUpPartitions;
      const processed = this.processor!.advanceClock(
        Date.now(),
        caughtUp.map(({ partition }) => partition),
      );
      await this.storeOutsideBatch(processed, caughtUp, 'what the clock fired');
    });
  }

  /** A change on fleet.rules, applied between two batches: no restart, and vehicles keep what they learnt. */
  private async applyRules(rules: Rule[]): Promise<void> {
    await this.consumer.exclusive(async () => {
      const processed = this.processor!.updateRules(rules);
      this.logger.info(
        { rules: rules.map((rule) => `${rule.id}@${rule.version}`), lookbackMs: this.processor!.lookbackMs },
        'rules applied',
      );
      await this.storeOutsideBatch(
        processed,
        this.consumer.ownedPartitions,
        'alerts cleared by a rule change',
      );
    });
  }

  /**
   * Stores and publishes what state changes outside a batch produced, committing the partitions' checkpoints with
   * it. If that fails the change lived in memory only: the partitions are rebuilt from their last checkpoints.
   */
  private async storeOutsideBatch(
    processed: ProcessedBatch,
    partitions: TopicPartition[],
    what: string,
  ): Promise<void> {
    if (processed.writes.length === 0) return;
    try {
      const rejected = await this.writer.write(processed.writes);
      await this.consumer.commitOutside(partitions, [
        ...this.announce(processed.alerts),
        ...this.park(rejected),
      ]);
    } catch (error) {
      this.logger.warn({ err: error }, `storing ${what} failed; rebuilding those partitions`);
      for (const partition of partitions) this.consumer.rebuild(partition);
    }
  }

  /** Documents Elasticsearch refused for good, as dead letters: logged, counted, and out of the partition's way. */
  private park(rejected: RejectedWrite[]): OutboundRecord[] {
    const rejectedAt = new Date().toISOString();
    return rejected.map(({ write, status, reason }) => {
      this.parked.inc({ index: write.index });
      this.logger.error({ index: write.index, id: write.id, status, reason }, 'document refused; parked');
      const { index, id, document } = write;
      const letter: DocumentDeadLetter = { index, id, document, reason, status, rejectedAt };
      return { topic: this.topics.documentDeadLetters, key: write.id, value: JSON.stringify(letter) };
    });
  }

  /** The alert transitions as fleet.alerts records, to go out with the offset commit; logged and counted. */
  private announce(alerts: AlertMessage[]): OutboundRecord[] {
    for (const alert of alerts) {
      this.alertsRaised.inc({ severity: alert.severity, status: alert.status });
      this.logger.info(
        { alertId: alert.alertId, ruleId: alert.ruleId, vehicleId: alert.vehicleId, status: alert.status },
        alert.message,
      );
    }
    return alerts.map((alert) => ({
      topic: this.topics.alerts,
      key: alert.alertId,
      value: JSON.stringify(alert),
    }));
  }
}
