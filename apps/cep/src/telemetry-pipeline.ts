import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { Client } from '@elastic/elasticsearch';
import type { Producer } from 'kafkajs';
import type { Logger } from 'pino';
import { Counter, Histogram, Registry } from 'prom-client';
import { TelemetryProcessor } from '@fleetlog/cep';
import { APP_CONFIG, type CepConfig } from '@fleetlog/config';
import { consumerGroupId, topicNames } from '@fleetlog/contracts';
import { BulkWriter, datasetNames, elasticsearchAnswers, provisionIndices } from '@fleetlog/elasticsearch';
import {
  BatchConsumer,
  BatchingPublisher,
  createIdempotentProducer,
  createKafka,
  ensureTopics,
  type ConsumedRecord,
} from '@fleetlog/kafka';
import { HealthRegistry, LOGGER } from '@fleetlog/observability';
import { AlertTracker, compileRules } from '@fleetlog/rules';
import { loadRuleDirectory } from './rule-directory';

/**
 * fleet.telemetry → rules → Elasticsearch and fleet.alerts. A batch's offsets are committed only after its
 * documents are stored and its alerts acknowledged by Kafka, so a crash repeats work but never skips it; the
 * deterministic document ids make the repetition harmless.
 */
@Injectable()
export class TelemetryPipeline implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly topics;
  private readonly kafka;
  private readonly elasticsearch: Client;
  private readonly consumer: BatchConsumer;
  private readonly producer: Producer;
  private readonly publisher: BatchingPublisher;
  private readonly writer: BulkWriter;
  private processor: TelemetryProcessor | undefined;
  private readonly consumed: Counter;
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
    this.consumer = new BatchConsumer(this.kafka, {
      groupId: consumerGroupId(config.FLEETLOG_NAMESPACE, `cep-${config.CEP_JOB_VERSION}`),
      topics: [this.topics.telemetry],
      fromBeginning: true,
      maxWaitTimeInMs: 50,
    });
    this.producer = createIdempotentProducer(this.kafka);
    this.publisher = new BatchingPublisher(this.producer, { lingerMs: 1, maxBatchRecords: 1_000 });

    health.register('kafka-consumer', () => this.consumer.ready);
    health.register('elasticsearch', () => elasticsearchAnswers(this.elasticsearch));
    const registers = [metrics];
    this.consumed = new Counter({
      name: 'fleetlog_cep_records_total',
      help: 'Telemetry records processed',
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
    const rules = await loadRuleDirectory(rulesDir);
    const indices = datasetNames(namespace, version);
    this.processor = new TelemetryProcessor(compileRules(rules), new AlertTracker(rules), indices);
    await ensureTopics(this.kafka, this.topics);
    await provisionIndices(this.elasticsearch, namespace, version);
    await this.producer.connect();
    await this.consumer.start((records) => this.handle(records));
    this.logger.info(
      { rules: rules.map((rule) => `${rule.id}@${rule.version}`), indices },
      'evaluating telemetry',
    );
  }

  async onApplicationShutdown(): Promise<void> {
    await this.consumer.stop();
    await this.publisher.drain();
    await this.producer.disconnect();
    await this.elasticsearch.close();
  }

  private async handle(records: ConsumedRecord[]): Promise<void> {
    const timer = this.batchSeconds.startTimer();
    const { writes, alerts, unreadable } = await this.processor!.process(records);
    for (const record of unreadable) {
      this.logger.error(
        { partition: record.partition, offset: record.offset },
        'unreadable telemetry record skipped',
      );
    }
    await this.writer.write(writes);
    await Promise.all(
      alerts.map((alert) =>
        this.publisher.publish({
          topic: this.topics.alerts,
          key: alert.alertId,
          value: JSON.stringify(alert),
        }),
      ),
    );
    for (const alert of alerts) {
      this.alertsRaised.inc({ severity: alert.severity, status: alert.status });
      this.logger.info(
        { alertId: alert.alertId, ruleId: alert.ruleId, vehicleId: alert.vehicleId, status: alert.status },
        alert.message,
      );
    }
    this.consumed.inc(records.length);
    timer();
  }
}
