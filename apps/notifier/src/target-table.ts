import { Inject, Injectable } from '@nestjs/common';
import type { Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import { APP_CONFIG, type NotifierConfig } from '@fleetlog/config';
import { consumerGroupId, type AlertMessage, type WebhookTarget } from '@fleetlog/contracts';
import { CompactedTopicTable } from '@fleetlog/kafka';
import { LOGGER } from '@fleetlog/observability';
import { parseWebhookTarget, targetReceives } from '@fleetlog/webhooks';

/** The id of the operator-defined target from WEBHOOK_URL/WEBHOOK_SECRET, reserved: a topic record using it is refused. */
export const staticTargetId = 'static';

/**
 * The webhook targets: fleet.webhooks.targets read from its beginning at start and followed live (a target written
 * while running receives the next alert), plus the operator's static target from the environment.
 */
@Injectable()
export class TargetTable {
  private readonly staticTarget: WebhookTarget | undefined;
  private table: CompactedTopicTable<WebhookTarget> | undefined;

  constructor(
    @Inject(APP_CONFIG) private readonly config: NotifierConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    const { WEBHOOK_URL: url, WEBHOOK_SECRET: secret } = config;
    this.staticTarget =
      url && secret
        ? {
            id: staticTargetId,
            url,
            secret,
            enabled: true,
            filters: {},
            allowPrivateNetwork: config.WEBHOOK_ALLOW_PRIVATE_NETWORK,
            changedBy: 'environment',
            changedAt: new Date(0).toISOString(),
          }
        : undefined;
  }

  get ready(): boolean {
    return this.table?.ready ?? false;
  }

  /** Resolves once the table holds everything the topic held at start. */
  async load(kafka: Kafka, topic: string): Promise<void> {
    this.table = new CompactedTopicTable(kafka, {
      topic,
      groupPrefix: consumerGroupId(this.config.FLEETLOG_NAMESPACE, 'notifier-targets'),
      decode: (value, key) => decodeTarget(value, key),
      onChange: ({ key, value }) =>
        this.logger.info({ targetId: key, deleted: value === undefined }, 'webhook target changed'),
      onRejected: ({ key, offset }, error) =>
        this.logger.warn(
          { targetId: key, offset, reason: (error as Error).message },
          'webhook target refused',
        ),
    });
    await this.table.start();
    this.logger.info({ targets: this.table.values().length }, 'webhook targets loaded');
  }

  get(id: string): WebhookTarget | undefined {
    return id === staticTargetId ? this.staticTarget : this.table?.get(id);
  }

  receiversOf(alert: AlertMessage): WebhookTarget[] {
    const targets = [...(this.staticTarget ? [this.staticTarget] : []), ...(this.table?.values() ?? [])];
    return targets.filter((target) => targetReceives(target, alert));
  }

  async stop(): Promise<void> {
    await this.table?.stop();
  }
}

function decodeTarget(value: Buffer, key: string): WebhookTarget {
  const parsed = parseWebhookTarget(JSON.parse(value.toString('utf8')));
  if (typeof parsed === 'string') throw new Error(parsed);
  if (parsed.id !== key || parsed.id === staticTargetId) throw new Error('id differs from the record key');
  return parsed;
}
