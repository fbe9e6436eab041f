import { Engine } from 'json-rules-engine';
import { parameterizedFacts } from './fact-catalog';
import type { Condition, Rule } from './rule-schema';

export type Facts = Record<string, unknown>;

/** A condition tree to evaluate under an id: a rule's `conditions`, or the second step of an A-then-B rule. */
export interface ConditionSet {
  id: string;
  conditions: Condition;
}

/** The id under which a rule's `then` step is evaluated; rule ids cannot contain "/". */
export function thenStepId(ruleId: string): string {
  return `${ruleId}/then`;
}

/** Every condition tree the enabled rules need evaluated per message. */
export function conditionSetsOf(rules: readonly Rule[]): ConditionSet[] {
  return rules
    .filter((rule) => rule.enabled)
    .flatMap((rule) => [
      ...(rule.conditions ? [{ id: rule.id, conditions: rule.conditions }] : []),
      ...(rule.then ? [{ id: thenStepId(rule.id), conditions: rule.then.conditions }] : []),
    ]);
}

/** Which rules' conditions hold for one set of facts. json-rules-engine defines the semantics. */
export interface ConditionEvaluator {
  matchingRuleIds(facts: Facts): Promise<Set<string>>;
}

/** The reference evaluator: json-rules-engine itself. */
export class JsonRulesEngineEvaluator implements ConditionEvaluator {
  private readonly engine: Engine;

  constructor(rules: readonly ConditionSet[]) {
    // Undefined facts count as "condition false" rather than an exception per missing sensor reading.
    this.engine = new Engine([], { allowUndefinedFacts: true });
    for (const [name, calculate] of parameterizedFacts()) this.engine.addFact(name, calculate as never);
    for (const rule of rules) {
      this.engine.addRule({ name: rule.id, conditions: rule.conditions as never, event: { type: rule.id } });
    }
  }

  async matchingRuleIds(facts: Facts): Promise<Set<string>> {
    const { events } = await this.engine.run(facts);
    return new Set(events.map((event) => event.type));
  }
}
