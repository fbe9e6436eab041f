import { Inject, Injectable } from '@nestjs/common';
import { Partitioners } from 'kafkajs';
import type { Logger } from 'pino';
import { APP_CONFIG, type ApiConfig } from '@fleetlog/config';
import type { RuleRecord } from '@fleetlog/contracts';
import { HealthRegistry, LOGGER } from '@fleetlog/observability';
import { ruleOfRecord, type Rule } from '@fleetlog/rules';
import { CompactedTopicStore } from '../kafka/compacted-topic-store';

/** A rule as it stands on fleet.rules. */
export interface CurrentRule {
  rule: Rule;
  changedBy: string;
  changedAt: string;
}

/**
 * The compacted fleet.rules topic, one partition, keyed by rule id: the current table, read from the beginning and
 * followed live, and the writes to it. A write is acknowledged by every in-sync replica (acks -1); `publish`
 * resolves once this instance's table has read it back, so a writer reads its own write.
 */
@Injectable()
export class RulesTopic extends CompactedTopicStore<CurrentRule> {
  constructor(@Inject(APP_CONFIG) config: ApiConfig, @Inject(LOGGER) logger: Logger, health: HealthRegistry) {
    super(config, logger, health, {
      topic: 'rules',
      name: 'rules',
      decode: (value, key, topic) => decodeRuleRecord(topic, key, value),
      // Bounded retries: a write the client was told failed must not land long after, over a newer version.
      producer: (kafka) =>
        kafka.producer({
          idempotent: true,
          maxInFlightRequests: 1,
          allowAutoTopicCreation: false,
          createPartitioner: Partitioners.DefaultPartitioner,
          retry: { retries: 5, initialRetryTime: 200, maxRetryTime: 2_000 },
        }),
    });
  }

  get(ruleId: string): CurrentRule | undefined {
    return this.table.get(ruleId);
  }

  all(): CurrentRule[] {
    return this.table.values().sort((a, b) => a.rule.id.localeCompare(b.rule.id));
  }

  /** Writes the rule's new state (null: a tombstone); resolves once Kafka has it and the table applied it. */
  publish(ruleId: string, record: RuleRecord | null, timeoutMs = 10_000): Promise<void> {
    return this.write(ruleId, record === null ? null : JSON.stringify(record), timeoutMs);
  }
}

function decodeRuleRecord(topic: string, key: string, value: Buffer): CurrentRule {
  const record = JSON.parse(value.toString('utf8')) as RuleRecord;
  const rule = ruleOfRecord(`${topic} key ${key}`, key, record);
  return { rule, changedBy: record.changedBy, changedAt: record.changedAt };
}
