import type { OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import type { Kafka, Producer } from 'kafkajs';
import { topicNames } from '@fleetlog/contracts';
import { ensureTopics, type CompactedTopicTable } from '@fleetlog/kafka';

/**
 * A compacted topic the api both writes and reads (rules, webhook targets): the current table, read whole at start
 * and followed live, and writes that resolve once this instance's table has read them back, so a writer's next read
 * sees its own change.
 */
export abstract class CompactedTopicStore<T> implements OnModuleInit, OnApplicationShutdown {
  protected constructor(
    private readonly kafka: Kafka,
    private readonly namespace: string,
    private readonly topic: string,
    protected readonly table: CompactedTopicTable<T>,
    private readonly producer: Producer,
  ) {}

  async onModuleInit(): Promise<void> {
    await ensureTopics(this.kafka, topicNames(this.namespace));
    await this.producer.connect();
    await this.table.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.table.stop();
    await this.producer.disconnect();
  }

  /** Writes the key's new value (null: a tombstone), acknowledged by every in-sync replica, then reads it back. */
  protected async write(key: string, value: string | null, timeoutMs: number): Promise<void> {
    const [written] = await this.producer.send({ topic: this.topic, acks: -1, messages: [{ key, value }] });
    await this.table.readBack(written!.partition, BigInt(written!.baseOffset!), timeoutMs);
  }
}
