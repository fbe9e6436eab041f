import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { Admin } from 'kafkajs';
import type { Logger } from 'pino';
import { APP_CONFIG, type ApiConfig } from '@fleetlog/config';
import { consumerGroupId, topicNames } from '@fleetlog/contracts';
import { createKafka } from '@fleetlog/kafka';
import { LOGGER } from '@fleetlog/observability';
import type { PartitionOffsets } from './replay-progress';

/** Kafka error codes a group deletion may answer that are not failures of the request. */
const groupIdNotFound = 69;
const nonEmptyGroup = 68;

/** The job's consumer group still has members: the job is still running somewhere. */
export class GroupNotEmptyError extends Error {
  constructor(readonly groupId: string) {
    super(`consumer group ${groupId} still has members`);
    this.name = 'GroupNotEmptyError';
  }
}

/**
 * What Kafka knows about a job: its consumer group `cep-<version>` over fleet.telemetry (committed offsets, whether
 * it has members) and the offsets of the log it reads.
 */
@Injectable()
export class JobOffsets implements OnModuleInit, OnApplicationShutdown {
  private readonly admin: Admin;
  private readonly namespace: string;
  private readonly topic: string;

  constructor(@Inject(APP_CONFIG) config: ApiConfig, @Inject(LOGGER) logger: Logger) {
    this.admin = createKafka(config.KAFKA_BROKERS, 'fleetlog-api-jobs-admin', logger).admin();
    this.namespace = config.FLEETLOG_NAMESPACE;
    this.topic = topicNames(config.FLEETLOG_NAMESPACE).telemetry;
  }

  async onModuleInit(): Promise<void> {
    await this.admin.connect();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.admin.disconnect();
  }

  groupId(version: string): string {
    return consumerGroupId(this.namespace, `cep-${version}`);
  }

  /** Per partition of fleet.telemetry: where a job reading from `from` (ISO time; absent: the beginning) started, its committed offset and the log end. */
  async partitions(version: string, from: string | undefined): Promise<PartitionOffsets[]> {
    const [bounds, committed] = await Promise.all([
      this.admin.fetchTopicOffsets(this.topic),
      this.committed(version),
    ]);
    const starts =
      from === undefined
        ? new Map(bounds.map(({ partition, low }) => [partition, Number(low)]))
        : new Map(
            (await this.admin.fetchTopicOffsetsByTimestamp(this.topic, Date.parse(from))).map(
              ({ partition, offset }) => [partition, Number(offset)],
            ),
          );
    return bounds.map(({ partition, low, high }) => ({
      partition,
      start: starts.get(partition) ?? Number(low),
      committed: committed.get(partition),
      end: Number(high),
    }));
  }

  /** The group's committed offsets per partition (those it has committed in). */
  async committed(version: string): Promise<Map<number, number>> {
    const [offsets] = await this.admin.fetchOffsets({ groupId: this.groupId(version), topics: [this.topic] });
    return new Map(
      (offsets?.partitions ?? [])
        .filter(({ offset }) => Number(offset) >= 0)
        .map(({ partition, offset }) => [partition, Number(offset)]),
    );
  }

  /** No instance runs the job's pipeline any more: the group has no members (Empty) or no longer exists (Dead). */
  async stopped(version: string): Promise<boolean> {
    const { groups } = await this.admin.describeGroups([this.groupId(version)]);
    return groups.every((group) => group.state === 'Empty' || group.state === 'Dead');
  }

  /** Deletes the group and its committed offsets; one that does not exist is already gone. */
  async deleteGroup(version: string): Promise<void> {
    const groupId = this.groupId(version);
    try {
      await this.admin.deleteGroups([groupId]);
    } catch (error) {
      const results = (error as { groups?: Array<{ errorCode: number }> }).groups ?? [];
      if (results.length === 0) throw error;
      if (results.some((result) => result.errorCode === nonEmptyGroup)) throw new GroupNotEmptyError(groupId);
      if (!results.every((result) => result.errorCode === groupIdNotFound)) throw error;
    }
  }
}
