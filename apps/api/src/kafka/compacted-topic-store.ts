import { ServiceUnavailableException, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { Kafka, Producer } from 'kafkajs';
import type { Logger } from 'pino';
import type { ApiConfig } from '@fleetlog/config';
import { consumerGroupId, topicNames, type TopicKey } from '@fleetlog/contracts';
import {
  CompactedTopicTable,
  createIdempotentProducer,
  createKafka,
  ensureTopics,
  RenewableProducer,
  TableReadBackTimeout,
} from '@fleetlog/kafka';
import type { HealthRegistry } from '@fleetlog/observability';

/** How long a write waits to see itself in the table before the request gives up. */
const readYourWriteTimeoutMs = 10_000;

export interface CompactedTopicStoreOptions<T> {
  topic: TopicKey;
  /** Names the store's Kafka client, consumer group, health check and log lines: `rules`, `jobs`, ... */
  name: string;
  /** Turns a record into an entry; throwing refuses the record (logged; the key keeps its previous entry). */
  decode: (value: Buffer, key: string, topic: string) => T;
  /** The producer writes go through; an idempotent one retrying without limit unless given. */
  producer?: (kafka: Kafka) => Producer;
}

/**
 * A compacted topic the api both writes and reads (rules, webhook targets, jobs): the current table, read whole at
 * start and followed live, and writes that resolve once this instance's table has read them back, so a writer's next
 * read sees its own change.
 */
export abstract class CompactedTopicStore<T> implements OnModuleInit, OnApplicationShutdown {
  protected readonly table: CompactedTopicTable<T>;
  private readonly kafka: Kafka;
  private readonly topic: string;
  private readonly producer: RenewableProducer;

  protected constructor(
    private readonly config: ApiConfig,
    logger: Logger,
    health: HealthRegistry,
    options: CompactedTopicStoreOptions<T>,
  ) {
    const topic = topicNames(config.FLEETLOG_NAMESPACE)[options.topic];
    this.topic = topic;
    this.kafka = createKafka(config.KAFKA_BROKERS, `fleetlog-api-${options.name}`, logger);
    this.table = new CompactedTopicTable<T>(this.kafka, {
      topic,
      groupPrefix: consumerGroupId(config.FLEETLOG_NAMESPACE, `api-${options.name}`),
      decode: (value, key) => options.decode(value, key, topic),
      // Written by something other than the api (or cep's seeding): the key's previous entry stands.
      onRejected: (change, error) => logger.warn({ err: error, ...change, topic }, 'record refused'),
    });
    const createProducer = options.producer ?? createIdempotentProducer;
    this.producer = new RenewableProducer(() => createProducer(this.kafka));
    health.register(`${options.name}-table`, () => this.table.ready);
  }

  async onModuleInit(): Promise<void> {
    await ensureTopics(this.kafka, topicNames(this.config.FLEETLOG_NAMESPACE));
    await this.producer.connect();
    await this.table.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.table.stop();
    await this.producer.disconnect();
  }

  /**
   * Writes the key's new value (null: a tombstone), acknowledged by every in-sync replica, then reads it back; a
   * read-back that takes too long is `TableReadBackTimeout` (the write is made).
   */
  protected async write(
    key: string,
    value: string | null,
    timeoutMs = readYourWriteTimeoutMs,
  ): Promise<void> {
    const [written] = await this.producer.send({ topic: this.topic, acks: -1, messages: [{ key, value }] });
    await this.table.readBack(written!.partition, BigInt(written!.baseOffset!), timeoutMs);
  }

  /** `write`, answering 503 to the client when the read-back takes too long. */
  protected async writeOrUnavailable(key: string, value: string | null): Promise<void> {
    try {
      await this.write(key, value);
    } catch (error) {
      if (!(error instanceof TableReadBackTimeout)) throw error;
      throw new ServiceUnavailableException(
        'The change was written but is not readable yet; retry the read.',
      );
    }
  }
}
