import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { Client } from '@elastic/elasticsearch';
import type { Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { APP_CONFIG, type CepConfig } from '@fleetlog/config';
import {
  consumerGroupId,
  topicNames,
  type GatewayProgress,
  type JobRecord,
  type TopicNames,
} from '@fleetlog/contracts';
import { elasticsearchAnswers } from '@fleetlog/elasticsearch';
import { sourceTime, type VehicleRef } from '@fleetlog/cep';
import { followsRuleTopic, jobsToRun } from '@fleetlog/jobs';
import { CompactedTopicTable, createKafka, ensureTopics } from '@fleetlog/kafka';
import { HealthRegistry, LOGGER } from '@fleetlog/observability';
import { checkRuleDocuments, type Rule } from '@fleetlog/rules';
import { CepMetrics } from './cep-metrics';
import { JobPipeline, type JobPipelineDependencies } from './job-pipeline';
import { RuleCatalog } from './rule-catalog';
import { VehicleDirectory } from './vehicle-directory';

/**
 * Runs the telemetry indexer, which stores every record once whatever the rules, and the jobs of fleet.jobs that
 * should run (see `jobsToRun`): the live job and every replay, each its own pipeline and consumer group, so a replay
 * reprocesses the log while the live job keeps serving. A fresh install's
 * first cep makes its `CEP_JOB_VERSION` the live job. Changes to fleet.jobs start, stop and re-source pipelines
 * while running; changes to fleet.rules reach every job that follows them.
 */
@Injectable()
export class JobSupervisor implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly kafka: Kafka;
  private readonly topics: TopicNames;
  private readonly elasticsearch: Client;
  private readonly jobs: CompactedTopicTable<JobRecord>;
  /** Per gateway, the time through which its messages are in the log (ms). */
  private readonly gatewayProgress: CompactedTopicTable<number>;
  private readonly catalog: RuleCatalog;
  private readonly vehicles: VehicleDirectory;
  private readonly pipelines = new Map<string, { pipeline: JobPipeline; followsRules: boolean }>();
  /** Absent with CEP_RAW_TELEMETRY=rollups-only. */
  private readonly indexer: JobPipeline | undefined;
  /** Reconciliations run one after another, in the order the changes arrived. */
  private reconciling: Promise<void> = Promise.resolve();

  constructor(
    @Inject(APP_CONFIG) private readonly config: CepConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly metrics: CepMetrics,
    health: HealthRegistry,
    registry: Registry,
  ) {
    this.topics = topicNames(config.FLEETLOG_NAMESPACE);
    this.kafka = createKafka(config.KAFKA_BROKERS, 'fleetlog-cep', logger);
    this.elasticsearch = new Client({ node: config.ELASTICSEARCH_URL });
    const groupPrefix = consumerGroupId(config.FLEETLOG_NAMESPACE, 'cep');
    this.jobs = new CompactedTopicTable<JobRecord>(this.kafka, {
      topic: this.topics.jobs,
      groupPrefix: `${groupPrefix}-jobs`,
      decode: (value) => JSON.parse(value.toString('utf8')) as JobRecord,
      onChange: ({ key, value }) => {
        this.logger.info({ job: key, state: value?.state ?? 'deleted' }, 'job changed');
        this.scheduleReconcile();
      },
      onRejected: ({ key }, error) => this.logger.error({ job: key, err: error }, 'job record refused'),
    });
    this.gatewayProgress = new CompactedTopicTable<number>(this.kafka, {
      topic: this.topics.gatewayProgress,
      groupPrefix: `${groupPrefix}-gateway-progress`,
      decode: (value) => receivedThrough(JSON.parse(value.toString('utf8')) as GatewayProgress),
      onRejected: ({ key }, error) =>
        this.logger.error({ gateway: key, err: error }, 'gateway progress record refused'),
    });
    this.catalog = new RuleCatalog(
      this.kafka,
      this.topics.rules,
      `${groupPrefix}-rules`,
      logger,
      registry,
      (rules) => void this.applyRules(rules),
    );
    this.vehicles = new VehicleDirectory(
      this.kafka,
      this.topics.vehicles,
      `${groupPrefix}-vehicles`,
      logger,
      registry,
      (vehicles) => void this.retag(vehicles),
    );
    this.indexer =
      config.CEP_RAW_TELEMETRY === 'indexed'
        ? new JobPipeline(
            { version: 'telemetry', consumerGroup: 'telemetry-indexer', documents: 'telemetry' },
            [],
            this.dependencies(),
          )
        : undefined;
    health.register(
      'kafka-consumer',
      () =>
        (this.indexer?.ready ?? true) && [...this.pipelines.values()].every(({ pipeline }) => pipeline.ready),
    );
    health.register('elasticsearch', () => elasticsearchAnswers(this.elasticsearch));
  }

  async onApplicationBootstrap(): Promise<void> {
    await ensureTopics(this.kafka, this.topics);
    await this.catalog.start(this.config.RULES_DIR);
    // Before any job: a vehicle's first message decides which rules apply to it, by its tags.
    await this.vehicles.start();
    const first: JobRecord = {
      version: this.config.CEP_JOB_VERSION,
      state: 'live',
      changedBy: 'cep',
      changedAt: new Date().toISOString(),
    };
    await this.jobs.seedIfNeverWritten([{ key: first.version, value: JSON.stringify(first) }]);
    await this.jobs.start();
    await this.gatewayProgress.start();
    await this.indexer?.start(undefined);
    this.scheduleReconcile();
    await this.reconciling;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.reconciling;
    await this.jobs.stop();
    await this.catalog.stop();
    await this.vehicles.stop();
    await this.gatewayProgress.stop();
    const running = [this.indexer, ...[...this.pipelines.values()].map(({ pipeline }) => pipeline)];
    await Promise.all(running.map((pipeline) => pipeline?.stop()));
    await this.elasticsearch.close();
  }

  private scheduleReconcile(): void {
    this.reconciling = this.reconciling
      .then(() => this.reconcile())
      .catch((error) => this.logger.error({ err: error }, 'applying a job change failed'));
  }

  /** Starts the jobs that should run and are not, stops those that run and should not, re-sources promoted ones. */
  private async reconcile(): Promise<void> {
    const wanted = new Map(jobsToRun(this.jobs.values()).map((job) => [job.version, job]));
    for (const [version, running] of this.pipelines) {
      if (wanted.has(version)) continue;
      this.pipelines.delete(version);
      await running.pipeline.stop();
      this.logger.info({ job: version }, 'job stopped');
    }
    for (const job of wanted.values()) {
      const running = this.pipelines.get(job.version);
      const followsRules = followsRuleTopic(job);
      if (running) {
        if (followsRules && !running.followsRules) {
          running.followsRules = true;
          await running.pipeline.applyRules(this.catalog.rules());
        }
        continue;
      }
      const pipeline = new JobPipeline(
        { version: job.version, consumerGroup: `cep-${job.version}`, documents: 'derived' },
        followsRules ? this.catalog.rules() : rulesOf(job),
        this.dependencies(),
      );
      this.pipelines.set(job.version, { pipeline, followsRules });
      await pipeline.start(job.from);
    }
  }

  private dependencies(): JobPipelineDependencies {
    return {
      config: this.config,
      logger: this.logger,
      kafka: this.kafka,
      topics: this.topics,
      elasticsearch: this.elasticsearch,
      metrics: this.metrics,
      sourceTime: (now) =>
        sourceTime(this.gatewayProgress.values(), now, this.config.CEP_GATEWAY_PROGRESS_EXPIRY_MS),
      vehicleTags: this.vehicles.tagsOf,
    };
  }

  /** Every job, replays included, judges by the tags vehicles have now. */
  private async retag(vehicles: VehicleRef[]): Promise<void> {
    for (const { pipeline } of this.pipelines.values()) await pipeline.retag(vehicles);
  }

  private async applyRules(rules: Rule[]): Promise<void> {
    for (const { pipeline, followsRules } of this.pipelines.values()) {
      if (followsRules) await pipeline.applyRules(rules);
    }
  }
}

/** A replay's own rule snapshot, validated when the job was created; refused here only if the record was forged. */
function rulesOf(job: JobRecord): Rule[] {
  const { rules, problems } = checkRuleDocuments(
    (job.rules ?? []).map((rule, index) => ({
      source: `fleet.jobs ${job.version} /rules/${index}`,
      text: JSON.stringify(rule),
    })),
  );
  if (problems.length > 0)
    throw new Error(`job ${job.version} holds invalid rules: ${JSON.stringify(problems)}`);
  return rules.map(({ rule }) => rule);
}

function receivedThrough({ receivedThrough }: GatewayProgress): number {
  const time = Date.parse(receivedThrough);
  if (!Number.isFinite(time))
    throw new Error(`receivedThrough is not a time: ${JSON.stringify(receivedThrough)}`);
  return time;
}
