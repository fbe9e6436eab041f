import type { Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { RuleRecord } from '@fleetlog/contracts';
import { CompactedTopicTable } from '@fleetlog/kafka';
import { ruleOfRecord, type Rule } from '@fleetlog/rules';
import { loadRuleDirectory } from './rule-directory';

/** Rule changes that arrive together (an `apply` of a whole directory) are applied once. */
const settleMs = 200;

/**
 * The rules cep evaluates: the compacted fleet.rules topic, read whole at start and followed live. A topic that has
 * never been written is seeded from the rule directory first, so a fresh install starts with the shipped library.
 * A record that does not hold a valid rule is refused and logged; the rule keeps its previous version.
 */
export class RuleCatalog {
  private readonly table: CompactedTopicTable<Rule>;
  private readonly rejected: Counter;
  private readonly loaded: Gauge;
  private pending: NodeJS.Timeout | undefined;

  constructor(
    kafka: Kafka,
    topic: string,
    groupPrefix: string,
    private readonly logger: Logger,
    metrics: Registry,
    private readonly onChange: (rules: Rule[]) => void,
  ) {
    this.rejected = new Counter({
      name: 'fleetlog_cep_rule_records_rejected_total',
      help: 'fleet.rules records that did not hold a valid rule (the rule kept its previous version)',
      registers: [metrics],
    });
    this.loaded = new Gauge({
      name: 'fleetlog_cep_rules',
      help: 'Rules in the catalog, enabled or not',
      registers: [metrics],
    });
    this.table = new CompactedTopicTable(kafka, {
      topic,
      groupPrefix,
      decode: (value, key) => ruleOf(topic, key, value),
      onChange: ({ key, value }) => {
        this.logger.info({ ruleId: key, version: value?.version ?? 'deleted' }, 'rule changed');
        this.scheduleApply();
      },
      onRejected: ({ key, offset }, error) => {
        this.rejected.inc();
        this.logger.error({ ruleId: key, offset, err: error }, 'rule record refused');
      },
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
    if (await this.table.seedIfNeverWritten(records)) {
      this.logger.info(
        { directory: seedDirectory, rules: seed.length },
        'seeded fleet.rules from the rule directory',
      );
    }
    await this.table.start();
    return this.rules();
  }

  async stop(): Promise<void> {
    clearTimeout(this.pending);
    await this.table.stop();
  }

  rules(): Rule[] {
    const rules = this.table.values().sort((a, b) => a.id.localeCompare(b.id));
    this.loaded.set(rules.length);
    return rules;
  }

  private scheduleApply(): void {
    this.pending ??= setTimeout(() => {
      this.pending = undefined;
      this.onChange(this.rules());
    }, settleMs);
  }
}

function ruleOf(topic: string, key: string, value: Buffer): Rule {
  const record = JSON.parse(value.toString('utf8')) as Partial<RuleRecord>;
  return ruleOfRecord(`${topic} key ${key}`, key, record);
}
