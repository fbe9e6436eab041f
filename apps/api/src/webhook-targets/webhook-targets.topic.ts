import { Inject, Injectable, ServiceUnavailableException } from '@nestjs/common';
import type { Logger } from 'pino';
import { APP_CONFIG, type ApiConfig } from '@fleetlog/config';
import { consumerGroupId, topicNames, type WebhookTarget } from '@fleetlog/contracts';
import {
  CompactedTopicTable,
  createIdempotentProducer,
  createKafka,
  TableReadBackTimeout,
} from '@fleetlog/kafka';
import { HealthRegistry, LOGGER } from '@fleetlog/observability';
import { CompactedTopicStore } from '../kafka/compacted-topic-store';

/** How long a write waits to see itself in the table before the request gives up (503). */
const readYourWriteTimeoutMs = 10_000;

/**
 * fleet.webhooks.targets, the notifier's source of targets: the api writes records keyed by target id (a tombstone
 * deletes one) and keeps the current table by reading the topic. A write resolves once the table holds it, so the
 * writer's next read sees its own change.
 */
@Injectable()
export class WebhookTargetsTopic extends CompactedTopicStore<WebhookTarget> {
  constructor(@Inject(APP_CONFIG) config: ApiConfig, @Inject(LOGGER) logger: Logger, health: HealthRegistry) {
    const kafka = createKafka(config.KAFKA_BROKERS, 'fleetlog-api', logger);
    const topic = topicNames(config.FLEETLOG_NAMESPACE).webhookTargets;
    const table = new CompactedTopicTable<WebhookTarget>(kafka, {
      topic,
      groupPrefix: consumerGroupId(config.FLEETLOG_NAMESPACE, 'api-webhook-targets'),
      decode: (value) => JSON.parse(value.toString('utf8')) as WebhookTarget,
      onRejected: (change, error) =>
        logger.warn({ err: error, ...change, topic }, 'webhook target record ignored'),
    });
    super(kafka, config.FLEETLOG_NAMESPACE, topic, table, createIdempotentProducer(kafka));
    health.register('webhook-targets-table', () => table.ready);
  }

  get(id: string): WebhookTarget | undefined {
    return this.table.get(id);
  }

  list(): WebhookTarget[] {
    return this.table.values();
  }

  put(target: WebhookTarget): Promise<void> {
    return this.writeOr503(target.id, JSON.stringify(target));
  }

  delete(id: string): Promise<void> {
    return this.writeOr503(id, null);
  }

  private async writeOr503(key: string, value: string | null): Promise<void> {
    try {
      await this.write(key, value, readYourWriteTimeoutMs);
    } catch (error) {
      if (!(error instanceof TableReadBackTimeout)) throw error;
      throw new ServiceUnavailableException(
        'The change was written but is not readable yet; retry the read.',
      );
    }
  }
}
