import type { Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';
import type { RuleRecord } from '@fleetlog/contracts';
import { ruleOfRecord, type Rule } from '@fleetlog/rules';
import { FollowedTable } from './followed-table';
import { loadRuleDirectory } from './rule-directory';

/**
 * The rules cep evaluates: the compacted fleet.rules topic, read whole at start and followed live. A topic that has
 * never been written is seeded from the rule directory first, so a fresh install starts with the shipped library.
 * A record that does not hold a valid rule is refused and logged; the rule keeps its previous version.
 */
export class RuleCatalog {
  private readonly followed: FollowedTable<Rule>;
  private readonly loaded: Gauge;

  constructor(
    kafka: Kafka,
    topic: string,
    groupPrefix: string,
    private readonly logger: Logger,
    metrics: Registry,
    onChange: (rules: Rule[]) => void,
  ) {
    this.loaded = new Gauge({
      name: 'fleetlog_cep_rules',
      help: 'Rules in the catalog, enabled or not',
      registers: [metrics],
    });
    this.followed = new FollowedTable(kafka, logger, metrics, {
      topic,
      groupPrefix,
      subject: 'rule',
      decode: (value, key) => ruleOf(topic, key, value),
      summary: (rule) => ({ version: rule?.version ?? 'deleted' }),
      onSettled: () => onChange(this.rules()),
    });
  }

  /** Reads the catalog (seeding it from `seedDirectory` if the topic was never written) and returns its rules. */
  async start(seedDirectory: string): Promise<Rule[]> {
    const seed = await loadRuleDirectory(seedDirectory);
    const changedAt = new Date().toISOString();
    const records = seed.map((rule) => {
      const record: RuleRecord = { rule, changedBy: `${seedDirectory}/`, changedAt };
      return { key: rule.id, value: JSON.stringify(record) };
    });
    if (await this.followed.table.seedIfNeverWritten(records)) {
      this.logger.info(
        { directory: seedDirectory, rules: seed.length },
        'seeded fleet.rules from the rule directory',
      );
    }
    await this.followed.start();
    return this.rules();
  }

  stop(): Promise<void> {
    return this.followed.stop();
  }

  rules(): Rule[] {
    const rules = this.followed.table.values().sort((a, b) => a.id.localeCompare(b.id));
    this.loaded.set(rules.length);
    return rules;
  }
}

function ruleOf(topic: string, key: string, value: Buffer): Rule {
  const record = JSON.parse(value.toString('utf8')) as Partial<RuleRecord>;
  return ruleOfRecord(`${topic} key ${key}`, key, record);
}
