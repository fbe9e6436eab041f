import type { RuleRecord } from '@fleetlog/contracts';
import { validateRule, type Rule, type RuleProblem } from './rule-schema';
import { vocabularyProblems } from './rule-vocabulary';

export class InvalidRuleError extends Error {
  constructor(
    readonly source: string,
    readonly problems: RuleProblem[],
  ) {
    super(`${source}: ${problems.map((problem) => `${problem.path || '/'} ${problem.message}`).join('; ')}`);
    this.name = 'InvalidRuleError';
  }
}

/**
 * The rule of a fleet.rules record, validated again by its reader (the topic may hold what another writer put there):
 * refused if broken, if it names a fact that does not exist or compares a value of the wrong type (it would never
 * fire), or if it is filed under a key other than its id.
 */
export function ruleOfRecord(source: string, key: string, record: Partial<RuleRecord>): Rule {
  const validation = validateRule(record.rule);
  if (!validation.valid) throw new InvalidRuleError(source, validation.problems);
  const unknown = vocabularyProblems(validation.rule);
  if (unknown.length > 0) throw new InvalidRuleError(source, unknown);
  if (validation.rule.id !== key) {
    throw new InvalidRuleError(source, [{ path: '/id', message: `differs from the record key "${key}"` }]);
  }
  return validation.rule;
}

export interface RuleDocumentProblem extends RuleProblem {
  source: string;
}

/**
 * Checks rule documents (named by where they came from) and reports every problem of every one: the schema's, unknown
 * facts and mistyped values, ids used twice. `defaultVersion` fills in a missing `version`, for files whose versions the API assigns.
 */
export function checkRuleDocuments(
  documents: ReadonlyArray<{ source: string; text: string }>,
  options: { defaultVersion?: number } = {},
): { rules: Array<{ source: string; rule: Rule }>; problems: RuleDocumentProblem[] } {
  const rules: Array<{ source: string; rule: Rule }> = [];
  const problems: RuleDocumentProblem[] = [];
  const sources = new Map<string, string>();
  for (const { source, text } of documents) {
    let document: unknown;
    try {
      document = JSON.parse(text);
    } catch (error) {
      problems.push({ source, path: '', message: `not JSON: ${(error as Error).message}` });
      continue;
    }
    const withDefaults =
      options.defaultVersion !== undefined &&
      typeof document === 'object' &&
      document !== null &&
      !Array.isArray(document)
        ? { version: options.defaultVersion, ...document }
        : document;
    const validation = validateRule(withDefaults);
    const ruleProblems = validation.valid ? vocabularyProblems(validation.rule) : validation.problems;
    if (!validation.valid || ruleProblems.length > 0) {
      problems.push(...ruleProblems.map((problem) => ({ source, ...problem })));
      continue;
    }
    const clash = sources.get(validation.rule.id);
    if (clash) {
      problems.push({ source, path: '/id', message: `"${validation.rule.id}" is also defined in ${clash}` });
      continue;
    }
    sources.set(validation.rule.id, source);
    rules.push({ source, rule: validation.rule });
  }
  return { rules, problems };
}

/** Parses rule documents and rejects the whole set if any is broken or ids collide, naming the first broken one. */
export function parseRuleSet(documents: ReadonlyArray<{ source: string; text: string }>): Rule[] {
  const { rules, problems } = checkRuleDocuments(documents);
  if (problems.length > 0) {
    const source = problems[0]!.source;
    throw new InvalidRuleError(
      source,
      problems.filter((problem) => problem.source === source).map(({ path, message }) => ({ path, message })),
    );
  }
  return rules.map(({ rule }) => rule);
}
