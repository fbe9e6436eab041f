import type { Client } from '@elastic/elasticsearch';
import type { Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import { StreamProcessor, type ProcessedBatch, type VehicleRef } from '@fleetlog/cep';
import type { CepConfig } from '@fleetlog/config';
import {
  consumerGroupId,
  type AlertMessage,
  type DocumentDeadLetter,
  type TopicNames,
} from '@fleetlog/contracts';
import {
  BulkWriter,
  datasetNames,
  jobDatasets,
  provisionIndices,
  type RejectedWrite,
} from '@fleetlog/elasticsearch';
import {
  BatchConsumer,
  createTransactionalProducer,
  type ConsumedRecord,
  type OutboundRecord,
  type PartitionStateHooks,
  type TopicPartition,
} from '@fleetlog/kafka';
import { exitForRestart } from '@fleetlog/observability';
import type { Rule, VehicleTagLookup } from '@fleetlog/rules';
import type { CepMetrics } from './cep-metrics';

/** What a pipeline is: a job (fleet.jobs) storing what it derives, or the telemetry indexer storing the records. */
export interface PipelineSpec {
  /** The job version, or `telemetry` for the indexer: the metrics' `job` label and the logs' `job` field. */
  version: string;
  /** Its consumer group, before the namespace: `cep-<version>` for a job. */
  consumerGroup: string;
  documents: 'derived' | 'telemetry';
}

export interface JobPipelineDependencies {
  config: CepConfig;
  logger: Logger;
  kafka: Kafka;
  topics: TopicNames;
  elasticsearch: Client;
  metrics: CepMetrics;
  /** How far wall-clock time may advance partitions with nothing to read (see `sourceTime`, libs/cep). */
  sourceTime: (now: number) => number;
  vehicleTags: VehicleTagLookup;
}

/**
 * One job (fleet.jobs): fleet.telemetry → StreamProcessor → the job's own indices and fleet.alerts, as consumer group
 * `cep-<version>`; or, run the same way, the telemetry indexer storing every record as a document. A batch's documents are stored first (ids make rewriting harmless); then its alerts and its offset
 * commit go in one Kafka transaction, the commit carrying a checkpoint that says where a new owner of the partition
 * must re-read from to rebuild windows, timers and alert state. Re-read records below the committed offset only
 * rebuild state, so a crash or rebalance neither skips nor repeats an alert.
 */
export class JobPipeline {
  readonly version: string;
  private readonly documents: PipelineSpec['documents'];
  private readonly groupId: string;
  private readonly consumer: BatchConsumer;
  private readonly writer: BulkWriter;
  private readonly processor: StreamProcessor;
  private readonly logger: Logger;
  private clock: NodeJS.Timeout | undefined;

  constructor(
    spec: PipelineSpec,
    rules: readonly Rule[],
    private readonly dependencies: JobPipelineDependencies,
  ) {
    const { config, kafka, topics, elasticsearch } = dependencies;
    this.version = spec.version;
    this.documents = spec.documents;
    this.logger = dependencies.logger.child({ job: spec.version });
    this.groupId = consumerGroupId(config.FLEETLOG_NAMESPACE, spec.consumerGroup);
    // A few minutes of retries (heartbeating meanwhile) before the batch is given back to be fetched again:
    // nothing behind it can be committed anyway, and an Elasticsearch restart takes a minute or two.
    this.writer = new BulkWriter(elasticsearch, {
      maxAttempts: 30,
      backoff: { initialMs: 200, maxMs: 10_000 },
    });
    this.consumer = new BatchConsumer(kafka, {
      groupId: this.groupId,
      topics: [topics.telemetry],
      fromBeginning: true,
      maxWaitTimeInMs: 50,
      maxBytesPerPartition: config.CEP_FETCH_MAX_BYTES_PER_PARTITION,
      partitionState: this.partitionState(),
      transactionalProducer: () =>
        createTransactionalProducer(kafka, `${this.groupId}-${config.CEP_INSTANCE_ID}`),
      onStuck: exitForRestart(this.logger, 'the telemetry consumer cannot go on'),
      // Longer than the bulk writer's retries: a wait for Elasticsearch is not a hang.
      maxStallMs: 6 * 60_000,
    });
    this.processor = new StreamProcessor(rules, {
      jobVersion: spec.version,
      documents: spec.documents,
      indices: datasetNames(config.FLEETLOG_NAMESPACE, spec.version),
      allowedLatenessMs: config.CEP_ALLOWED_LATENESS_MS,
      aggregateWindowMs: config.CEP_AGGREGATE_WINDOW_MS,
      maxRebuildMs: config.CEP_MAX_REBUILD_MS,
      maxAggregatesPerCall: config.CEP_MAX_AGGREGATES_PER_BATCH,
      vehicleTags: dependencies.vehicleTags,
    });
  }

  get ready(): boolean {
    return this.consumer.ready;
  }

  /** `from`: for a replay that starts at a time rather than the log's beginning (its first start only). */
  async start(from: string | undefined): Promise<void> {
    const { config, elasticsearch } = this.dependencies;
    const datasets = this.documents === 'telemetry' ? (['telemetry'] as const) : jobDatasets;
    await provisionIndices(elasticsearch, config.FLEETLOG_NAMESPACE, this.version, datasets);
    if (from !== undefined) await this.startGroupAt(Date.parse(from));
    await this.consumer.start((records, heartbeat) => this.handle(records, heartbeat));
    this.clock = setInterval(
      () => this.tick().catch((error) => this.logger.error({ err: error }, 'clock tick failed')),
      config.CEP_CLOCK_TICK_MS,
    );
    this.logger.info(
      {
        rules: this.processor.rules.map((rule) => `${rule.id}@${rule.version}`),
        documents: this.documents,
        lookbackMs: this.processor.lookbackMs,
      },
      'evaluating telemetry',
    );
  }

  /** Finishes the batch in hand, commits it and leaves the consumer group: another job or instance takes over. */
  async stop(): Promise<void> {
    clearInterval(this.clock);
    await this.consumer.stop();
    this.dependencies.metrics.vehicles.remove({ job: this.version });
    this.dependencies.metrics.activeAlerts.remove({ job: this.version });
  }

  /** A change on fleet.rules, applied between two batches: no restart, and vehicles keep what they learnt. */
  async applyRules(rules: readonly Rule[]): Promise<void> {
    await this.consumer.exclusive(async () => {
      const processed = this.processor.updateRules(rules);
      this.logger.info(
        { rules: rules.map((rule) => `${rule.id}@${rule.version}`), lookbackMs: this.processor.lookbackMs },
        'rules applied',
      );
      await this.storeOutsideBatch(
        processed,
        this.consumer.ownedPartitions,
        'alerts cleared by a rule change',
      );
    });
  }

  /** Vehicles whose tags changed on fleet.vehicles, applied between two batches like a rule change. */
  async retag(vehicles: VehicleRef[]): Promise<void> {
    await this.consumer.exclusive(async () => {
      const processed = this.processor.retag(vehicles);
      await this.storeOutsideBatch(
        processed,
        this.consumer.ownedPartitions,
        'alerts cleared by a tag change',
      );
    });
  }

  /** A new group starts where the log reached `time`; a group that has committed before resumes as it was. */
  private async startGroupAt(time: number): Promise<void> {
    const { kafka, topics } = this.dependencies;
    const admin = kafka.admin();
    await admin.connect();
    try {
      const [committed] = await admin.fetchOffsets({ groupId: this.groupId, topics: [topics.telemetry] });
      if (committed!.partitions.some(({ offset }) => offset !== '-1')) return;
      const partitions = await admin.fetchTopicOffsetsByTimestamp(topics.telemetry, time);
      await admin.setOffsets({ groupId: this.groupId, topic: topics.telemetry, partitions });
    } finally {
      await admin.disconnect();
    }
  }

  private partitionState(): PartitionStateHooks {
    return {
      assigned: ({ partition }, offset, metadata) => {
        const rebuildFrom = this.processor.assign(partition, offset, metadata);
        this.logger.info({ partition, committed: offset, rebuildFrom }, 'partition assigned');
        return rebuildFrom;
      },
      revoked: ({ partition }) => this.processor.revoke(partition),
      checkpoint: ({ partition }) => this.processor.checkpoint(partition),
    };
  }

  private async handle(records: ConsumedRecord[], heartbeat: () => Promise<void>): Promise<OutboundRecord[]> {
    const { metrics } = this.dependencies;
    const timer = metrics.batchSeconds.startTimer({ job: this.version });
    const processed = this.processor.process(records);
    for (const record of processed.unreadable) {
      this.logger.error(
        { partition: record.partition, offset: record.offset },
        'unreadable telemetry record skipped',
      );
    }
    const rejected = await this.writer.write(processed.writes, heartbeat);
    metrics.records.inc({ job: this.version }, records.length);
    metrics.late.inc({ job: this.version }, processed.late);
    if (processed.late > 0) {
      // Alerts they would have raised are missed: an operator must be able to tell from the log.
      this.logger.warn(
        {
          partitions: [...new Set(records.map(({ partition }) => partition))],
          late: processed.late,
          allowedLatenessMs: this.dependencies.config.CEP_ALLOWED_LATENESS_MS,
        },
        'readings arrived later than the allowed lateness: indexed, not evaluated',
      );
    }
    metrics.duplicates.inc({ job: this.version }, processed.duplicates);
    timer();
    return [...this.announce(processed.alerts), ...this.park(rejected)];
  }

  /** Wall-clock time passing for partitions with nothing left to read: absence alerts, closing windows. */
  private async tick(): Promise<void> {
    const { metrics } = this.dependencies;
    metrics.vehicles.set({ job: this.version }, this.processor.vehicleCount);
    metrics.activeAlerts.set({ job: this.version }, this.processor.activeAlertCount);
    await this.consumer.exclusive(async () => {
      // Read before the partitions' ends: what a gateway reported in the log is then within those ends.
      const through = this.dependencies.sourceTime(Date.now());
      const idle = await this.consumer.idlePartitions();
      const processed = this.processor.advanceClock(
        through,
        idle.map(({ partition }) => partition),
      );
      await this.storeOutsideBatch(processed, idle, 'what the clock fired');
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
      this.dependencies.metrics.parked.inc({ job: this.version, index: write.index });
      this.logger.error({ index: write.index, id: write.id, status, reason }, 'document refused; parked');
      const { index, id, document } = write;
      const letter: DocumentDeadLetter = { index, id, document, reason, status, rejectedAt };
      return {
        topic: this.dependencies.topics.documentDeadLetters,
        key: write.id,
        value: JSON.stringify(letter),
      };
    });
  }

  /** The alert transitions as fleet.alerts records, to go out with the offset commit; logged and counted. */
  private announce(alerts: AlertMessage[]): OutboundRecord[] {
    for (const alert of alerts) {
      this.dependencies.metrics.alertTransitions.inc({
        job: this.version,
        severity: alert.severity,
        status: alert.status,
      });
      this.logger.info(
        { alertId: alert.alertId, ruleId: alert.ruleId, vehicleId: alert.vehicleId, status: alert.status },
        alert.message,
      );
    }
    return alerts.map((alert) => ({
      topic: this.dependencies.topics.alerts,
      key: alert.alertId,
      value: JSON.stringify(alert),
    }));
  }
}
