import { telemetryMessageSchema } from '@fleetlog/contracts';
import { isParameterizedFact, secondsSinceLastMessage } from './fact-catalog';
import type { Condition, Rule, RuleProblem } from './rule-schema';

type ValueType = 'number' | 'boolean' | 'string';

interface SchemaProperty {
  type?: string;
  properties?: Record<string, SchemaProperty>;
}

const messageFields = telemetryMessageSchema.properties as Record<string, SchemaProperty>;

function valueTypeOf(property: SchemaProperty | undefined): ValueType | undefined {
  if (property?.type === 'integer' || property?.type === 'number') return 'number';
  if (property?.type === 'boolean' || property?.type === 'string') return property.type;
  return undefined;
}

/** What cep puts into the facts of a message: its fields, the gateway's stamps and the derived facts. */
const factTypes = new Map<string, ValueType | undefined>([
  ...Object.entries(messageFields).map(([name, property]) => [name, valueTypeOf(property)] as const),
  ['channel', 'string'],
  ['receivedAt', 'string'],
  [secondsSinceLastMessage, 'number'],
  ['window', 'number'],
  ['change', 'number'],
  ['rate', 'number'],
]);
const numericFields = [...factTypes]
  .filter(([name, type]) => type === 'number' && messageFields[name])
  .map(([name]) => name);
/** json-rules-engine compares numbers only: any other fact value makes these false. */
const comparisons = new Set(['lessThan', 'lessThanInclusive', 'greaterThan', 'greaterThanInclusive']);

/**
 * What the rule schema cannot know: whether the facts a rule names exist and whether its values have their type. A
 * rule on a misspelt fact, or comparing a number with text, would be accepted and never raise anything.
 */
export function vocabularyProblems(rule: Rule): RuleProblem[] {
  const problems: RuleProblem[] = [];
  if (rule.conditions) checkTree(rule.conditions, '/conditions', problems);
  if (rule.then) checkTree(rule.then.conditions, '/then/conditions', problems);
  return problems;
}

function checkTree(condition: Condition, pointer: string, problems: RuleProblem[]): void {
  if ('all' in condition)
    condition.all.forEach((child, i) => checkTree(child, `${pointer}/all/${i}`, problems));
  else if ('any' in condition)
    condition.any.forEach((child, i) => checkTree(child, `${pointer}/any/${i}`, problems));
  else if ('not' in condition) checkTree(condition.not, `${pointer}/not`, problems);
  else checkLeaf(condition, pointer, problems);
}

function checkLeaf(
  leaf: Extract<Condition, { fact: string }>,
  pointer: string,
  problems: RuleProblem[],
): void {
  if (!factTypes.has(leaf.fact)) {
    problems.push({
      path: `${pointer}/fact`,
      message: `unknown fact "${leaf.fact}": one of ${[...factTypes.keys()].join(', ')} (other fields are under ext)`,
    });
    return;
  }
  const field = (leaf.params as { field?: unknown } | undefined)?.field;
  if (isParameterizedFact(leaf.fact) && !numericFields.includes(field as string)) {
    problems.push({
      path: `${pointer}/params/field`,
      message: `must be a numeric telemetry field: one of ${numericFields.join(', ')}`,
    });
  }
  if (comparisons.has(leaf.operator)) {
    // Not even null or [100]: JavaScript would compare 88 > null and 88 > [100] after converting them.
    if (typeof leaf.value !== 'number') {
      problems.push({
        path: `${pointer}/value`,
        message: `must be a number: "${leaf.operator}" compares numbers`,
      });
    }
    return;
  }
  const expected = expectedType(leaf.fact, leaf.path);
  const values = Array.isArray(leaf.value) ? leaf.value : [leaf.value];
  // `equal null` asks whether the field is absent.
  if (expected && values.some((value) => value !== null && typeof value !== expected)) {
    problems.push({
      path: `${pointer}/value`,
      message: `must be a ${expected}: ${leaf.fact}${leaf.path?.slice(1) ?? ''} is a ${expected}`,
    });
  }
}

function expectedType(fact: string, path: string | undefined): ValueType | undefined {
  if (path === undefined) return factTypes.get(fact);
  const segments = path.slice(2).split('.');
  let property: SchemaProperty | undefined = messageFields[fact];
  for (const segment of segments) property = property?.properties?.[segment];
  return valueTypeOf(property);
}
