import { validateRule, type Rule, type RuleProblem } from './rule-schema';

export class InvalidRuleError extends Error {
  constructor(
    readonly source: string,
    readonly problems: RuleProblem[],
  ) {
    super(`${source}: ${problems.map((problem) => `${problem.path || '/'} ${problem.message}`).join('; ')}`);
    this.name = 'InvalidRuleError';
  }
}

/** Parses rule documents (named by where they came from) and rejects the whole set if any is broken or ids collide. */
export function parseRuleSet(documents: ReadonlyArray<{ source: string; text: string }>): Rule[] {
  const rules: Rule[] = [];
  const sources = new Map<string, string>();
  for (const { source, text } of documents) {
    let document: unknown;
    try {
      document = JSON.parse(text);
    } catch (error) {
      throw new InvalidRuleError(source, [{ path: '', message: `not JSON: ${(error as Error).message}` }]);
    }
    const validation = validateRule(document);
    if (!validation.valid) throw new InvalidRuleError(source, validation.problems);
    const clash = sources.get(validation.rule.id);
    if (clash) {
      throw new InvalidRuleError(source, [
        { path: '/id', message: `"${validation.rule.id}" is also defined in ${clash}` },
      ]);
    }
    sources.set(validation.rule.id, source);
    rules.push(validation.rule);
  }
  return rules;
}
