import { Inject, Injectable } from '@nestjs/common';
import type { Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import { APP_CONFIG, type NotifierConfig } from '@fleetlog/config';
import { topicNames, type TopicNames } from '@fleetlog/contracts';
import { createKafka } from '@fleetlog/kafka';
import { LOGGER } from '@fleetlog/observability';

/** The notifier's Kafka client and topic names, shared by the fan-out and the delivery worker. */
@Injectable()
export class NotifierKafka {
  readonly kafka: Kafka;
  readonly topics: TopicNames;

  constructor(@Inject(APP_CONFIG) config: NotifierConfig, @Inject(LOGGER) logger: Logger) {
    this.topics = topicNames(config.FLEETLOG_NAMESPACE);
    this.kafka = createKafka(config.KAFKA_BROKERS, 'fleetlog-notifier', logger);
  }
}
