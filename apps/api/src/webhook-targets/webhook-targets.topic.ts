import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { APP_CONFIG, type ApiConfig } from '@fleetlog/config';
import type { WebhookTarget } from '@fleetlog/contracts';
import { HealthRegistry, LOGGER } from '@fleetlog/observability';
import { CompactedTopicStore } from '../kafka/compacted-topic-store';

/**
 * fleet.webhooks.targets, the notifier's source of targets: the api writes records keyed by target id (a tombstone
 * deletes one) and keeps the current table by reading the topic. A write resolves once the table holds it, so the
 * writer's next read sees its own change.
 */
@Injectable()
export class WebhookTargetsTopic extends CompactedTopicStore<WebhookTarget> {
  constructor(@Inject(APP_CONFIG) config: ApiConfig, @Inject(LOGGER) logger: Logger, health: HealthRegistry) {
    super(config, logger, health, {
      topic: 'webhookTargets',
      name: 'webhook-targets',
      decode: (value) => JSON.parse(value.toString('utf8')) as WebhookTarget,
    });
  }

  get(id: string): WebhookTarget | undefined {
    return this.table.get(id);
  }

  list(): WebhookTarget[] {
    return this.table.values();
  }

  put(target: WebhookTarget): Promise<void> {
    return this.writeOrUnavailable(target.id, JSON.stringify(target));
  }

  delete(id: string): Promise<void> {
    return this.writeOrUnavailable(id, null);
  }
}
