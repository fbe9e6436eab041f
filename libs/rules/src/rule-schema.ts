import { z } from 'zod';
import { vehicleTagPattern, webhookTargetIdPattern } from '@fleetlog/contracts';
import { durationPattern, parseDuration } from './duration';
import { isParameterizedFact, readFactParams } from './fact-catalog';

/** json-rules-engine's built-in operators: the rule format is theirs, so is the vocabulary. */
export const builtInOperators = [
  'equal',
  'notEqual',
  'lessThan',
  'lessThanInclusive',
  'greaterThan',
  'greaterThanInclusive',
  'in',
  'notIn',
  'contains',
  'doesNotContain',
] as const;

const factName = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
/** Our own restricted path syntax ($.a.b only): json-rules-engine would evaluate operator input as JSONPath. */
const factPath = /^\$(\.[A-Za-z_][A-Za-z0-9_]{0,63}){1,8}$/;
const maxConditionDepth = 8;
const maxChildren = 100;
const leafKeys = new Set(['fact', 'operator', 'value', 'path', 'params']);
const listOperators = new Set(['in', 'notIn']);
const elementOperators = new Set(['contains', 'doesNotContain']);

type Literal = string | number | boolean | null;
export type Condition =
  | {
      fact: string;
      operator: (typeof builtInOperators)[number];
      value: Literal | Literal[];
      path?: string;
      params?: Record<string, unknown>;
    }
  | { all: Condition[] }
  | { any: Condition[] }
  | { not: Condition };

/**
 * Checks a json-rules-engine condition tree by hand rather than with a schema union, so that every problem is
 * reported at the exact JSON path of the offending node instead of "no union member matched" at the root.
 */
function checkCondition(node: unknown, path: Array<string | number>, depth: number, report: Report): void {
  if (depth > maxConditionDepth)
    return report(path, `conditions nest deeper than ${maxConditionDepth} levels`);
  if (typeof node !== 'object' || node === null || Array.isArray(node)) {
    return report(
      path,
      'must be an object: {all: [...]}, {any: [...]}, {not: {...}} or {fact, operator, value}',
    );
  }
  const keys = Object.keys(node);
  const record = node as Record<string, unknown>;
  for (const group of ['all', 'any'] as const) {
    if (group in record) {
      if (keys.length !== 1) return report(path, `"${group}" must stand alone in its object`);
      const children = record[group];
      if (!Array.isArray(children) || children.length === 0 || children.length > maxChildren) {
        return report([...path, group], `must be an array of 1 to ${maxChildren} conditions`);
      }
      children.forEach((child, index) => checkCondition(child, [...path, group, index], depth + 1, report));
      return;
    }
  }
  if ('not' in record) {
    if (keys.length !== 1) return report(path, '"not" must stand alone in its object');
    return checkCondition(record.not, [...path, 'not'], depth + 1, report);
  }
  checkLeaf(record, path, report);
}

function checkLeaf(leaf: Record<string, unknown>, path: Array<string | number>, report: Report): void {
  for (const key of Object.keys(leaf)) {
    if (!leafKeys.has(key))
      report([...path, key], 'unknown key (a condition has fact, operator, value, path, params)');
  }
  if (isParameterizedFact(leaf.fact)) {
    const read = readFactParams(leaf.fact, leaf.params);
    if ('problems' in read) {
      for (const problem of read.problems) {
        report([...path, 'params', ...(problem.key ? [problem.key] : [])], problem.message);
      }
    }
    if (leaf.path !== undefined) report([...path, 'path'], `"${leaf.fact}" is a number: it takes no path`);
  } else if (leaf.params !== undefined) {
    report([...path, 'params'], 'only the facts window, change and rate take params');
  }
  if (typeof leaf.fact !== 'string' || !factName.test(leaf.fact)) {
    report([...path, 'fact'], 'must be a fact name such as speedKph');
  }
  if (!builtInOperators.includes(leaf.operator as never)) {
    report([...path, 'operator'], `must be one of ${builtInOperators.join(', ')}`);
  }
  if (!('value' in leaf)) report([...path, 'value'], 'is required');
  else if (!isLiteralOrList(leaf.value)) {
    report([...path, 'value'], 'must be a string, number, boolean, null or a list of those');
  } else if (listOperators.has(leaf.operator as string) && !Array.isArray(leaf.value)) {
    // json-rules-engine would search a string value as text and fail every run on a number.
    report([...path, 'value'], `must be a list with "${String(leaf.operator)}"`);
  } else if (elementOperators.has(leaf.operator as string) && Array.isArray(leaf.value)) {
    // The fact list is searched for the value itself: a list value never matches.
    report([...path, 'value'], `must be a single value with "${String(leaf.operator)}"`);
  }
  if (leaf.path !== undefined && (typeof leaf.path !== 'string' || !factPath.test(leaf.path))) {
    report([...path, 'path'], 'must look like $.field or $.field.sub');
  }
}

function isLiteral(value: unknown): boolean {
  return (
    value === null ||
    typeof value === 'boolean' ||
    (typeof value === 'number' && Number.isFinite(value)) ||
    (typeof value === 'string' && value.length <= 1024)
  );
}

function isLiteralOrList(value: unknown): boolean {
  return isLiteral(value) || (Array.isArray(value) && value.length <= 1000 && value.every(isLiteral));
}

type Report = (path: Array<string | number>, message: string) => void;

const conditions = z.custom<Condition>().superRefine((node, context) => {
  const report: Report = (path, message) => context.addIssue({ code: 'custom', path, message });
  if (typeof node !== 'object' || node === null || !['all', 'any', 'not'].some((key) => key in node)) {
    return report([], 'the top level must be {all: [...]}, {any: [...]} or {not: {...}}');
  }
  checkCondition(node, [], 1, report);
});

const duration = z
  .string()
  .regex(durationPattern, 'must be a duration such as 500ms, 30s, 10m, 1h')
  .refine(
    (text) => !durationPattern.test(text) || parseDuration(text) <= 7 * 86_400_000,
    'must be at most 7d',
  );

const ruleFields = {
  id: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'lower-case letters, digits and dashes')
    // json-rules-engine emits each rule id as an event; an "error" event would reject every evaluation.
    .refine((id) => id !== 'error', 'is reserved'),
  version: z.number().int().positive(),
  name: z.string().min(1).max(200),
  description: z.string().max(2000).optional(),
  severity: z.enum(['info', 'warning', 'critical']),
  enabled: z.boolean().default(true),
  /** Each list given narrows it: in one of `fleets`, one of `vehicles`, carrying one of `tags`. None: every vehicle. */
  scope: z
    .strictObject({
      fleets: z.array(z.string().min(1)).min(1).optional(),
      vehicles: z.array(z.string().min(1)).min(1).optional(),
      /** Vehicles carrying any of these tags (fleet.vehicles, set through the api's /vehicles). */
      tags: z
        .array(z.string().regex(vehicleTagPattern, 'a tag: lower-case letters, digits and _ . : -, up to 64'))
        .min(1)
        .optional(),
    })
    .optional(),
  /** What must hold. Absent only on an absence rule, which is about messages not arriving at all. */
  conditions: conditions.optional(),
  /** The condition must hold continuously this long (event time) before the alert is raised. */
  for: duration.optional(),
  /** Raise when the condition has begun to hold (false → true) at least `atLeast` times within `within`. */
  count: z.strictObject({ atLeast: z.number().int().min(2).max(100), within: duration }).optional(),
  /** Raise when, after `conditions` held, `then.conditions` holds within `then.within`: A then B. */
  then: z.strictObject({ conditions, within: duration }).optional(),
  /** Raise when the vehicle has sent nothing for this long: it is offline. */
  absence: duration.optional(),
  /** After raising an alert, the rule does not raise another for the same vehicle within this time. */
  cooldown: duration.optional(),
  /** The condition must have stopped holding this long before the alert clears, so a flapping signal stays one alert. */
  clearAfter: duration.optional(),
  /** Text of the alert; {{field}} takes a fact's value, {{vehicleId}} the vehicle. */
  message: z.string().min(1).max(500),
  /** Where the rule's alerts go besides the targets whose filters take them: webhook targets, by id. */
  actions: z
    .array(
      z.strictObject({
        type: z.literal('webhook'),
        target: z.string().regex(webhookTargetIdPattern, 'a webhook target id: wht_ and 16 hex digits'),
      }),
    )
    .min(1)
    .max(10)
    .optional(),
};

/** Which temporal operator a rule uses; a rule without one raises as soon as its conditions hold (`for` of 0). */
export type RuleTrigger = 'for' | 'count' | 'then' | 'absence';

/** The tags operators gave a vehicle (fleet.vehicles): what `scope.tags` is matched against. */
export type VehicleTagLookup = (fleetId: string, vehicleId: string) => readonly string[];

/** Whether the rule applies to this vehicle, which carries these tags (see `scope`). */
export function inScope(
  { scope }: Pick<Rule, 'scope'>,
  fleetId: string,
  vehicleId: string,
  tags: readonly string[],
): boolean {
  return (
    (!scope?.fleets || scope.fleets.includes(fleetId)) &&
    (!scope?.vehicles || scope.vehicles.includes(vehicleId)) &&
    (!scope?.tags || scope.tags.some((tag) => tags.includes(tag)))
  );
}

export function triggerOf(rule: Pick<Rule, 'absence' | 'count' | 'then'>): RuleTrigger {
  return rule.absence ? 'absence' : rule.count ? 'count' : rule.then ? 'then' : 'for';
}

export const ruleSchema = z.strictObject(ruleFields).superRefine((rule, context) => {
  const triggers = (['count', 'then', 'absence'] as const).filter((key) => rule[key] !== undefined);
  if (rule.for !== undefined && triggers.length > 0) triggers.unshift('for' as never);
  if (triggers.length > 1) {
    context.addIssue({
      code: 'custom',
      path: [triggers[1]!],
      message: `a rule uses one of for, count, then and absence; this one also has "${triggers[0]}"`,
    });
  }
  if (rule.absence !== undefined) {
    for (const key of ['conditions', 'clearAfter'] as const) {
      if (rule[key] !== undefined) {
        context.addIssue({ code: 'custom', path: [key], message: 'an absence rule has none' });
      }
    }
  } else if (rule.conditions === undefined) {
    context.addIssue({
      code: 'custom',
      path: ['conditions'],
      message: 'is required (unless the rule is an absence rule)',
    });
  }
});

export type Rule = z.infer<typeof ruleSchema>;

export interface RuleProblem {
  /** JSON Pointer into the rule document. */
  path: string;
  message: string;
}

export type RuleValidation = { valid: true; rule: Rule } | { valid: false; problems: RuleProblem[] };

export function validateRule(document: unknown): RuleValidation {
  const result = ruleSchema.safeParse(document);
  if (result.success) return { valid: true, rule: result.data };
  return {
    valid: false,
    problems: result.error.issues.map((issue) => ({
      path: issue.path.map((segment) => `/${String(segment)}`).join(''),
      message: issue.message,
    })),
  };
}
