import { Engine } from 'json-rules-engine';
import type { Rule } from './rule-schema';

export type Facts = Record<string, unknown>;

/** Which rules' conditions hold for one set of facts. json-rules-engine defines the semantics. */
export interface ConditionEvaluator {
  matchingRuleIds(facts: Facts): Promise<Set<string>>;
}

/** The reference evaluator: json-rules-engine itself. */
export class JsonRulesEngineEvaluator implements ConditionEvaluator {
  private readonly engine: Engine;

  constructor(rules: readonly Rule[]) {
    // Undefined facts count as "condition false" rather than an exception per missing sensor reading.
    this.engine = new Engine([], { allowUndefinedFacts: true });
    for (const rule of rules) {
      this.engine.addRule({ name: rule.id, conditions: rule.conditions as never, event: { type: rule.id } });
    }
  }

  async matchingRuleIds(facts: Facts): Promise<Set<string>> {
    const { events } = await this.engine.run(facts);
    return new Set(events.map((event) => event.type));
  }
}
