import { windowFunctions, type WindowFunction } from '@fleetlog/windows';
import { parseDuration } from './duration';
import type { Facts } from './condition-evaluator';
import type { Condition } from './rule-schema';

/**
 * Facts that cep computes per message besides the telemetry fields. A condition names them like any fact; those
 * that need arguments take them in json-rules-engine's `params`:
 *   { "fact": "window", "params": { "fn": "avg", "field": "speedKph", "size": "5m" }, ... }
 *   { "fact": "change", "params": { "field": "fuelLevelPct" }, ... }   value minus the previous message's
 *   { "fact": "rate", "params": { "field": "speedKph" }, ... }         change per second of event time
 *   { "fact": "secondsSinceLastMessage", ... }
 * Before evaluation every such fact is written into the facts under `parameterizedFactKey`, so that evaluating
 * it is one property read, and json-rules-engine (see `parameterizedFacts`) reads the same value.
 */
export const parameterizedFactNames = ['window', 'change', 'rate'] as const;
export type ParameterizedFactName = (typeof parameterizedFactNames)[number];
export const secondsSinceLastMessage = 'secondsSinceLastMessage';

export type FactParams =
  | { fact: 'window'; fn: WindowFunction; field: string; sizeMs: number }
  | { fact: 'change' | 'rate'; field: string };

/** A field name as our restricted resolver accepts it: a top-level telemetry field, never a JSONPath. */
const fieldName = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
/** Bounds the state a window costs per vehicle. */
export const maxWindowMs = 86_400_000;

export function isParameterizedFact(fact: unknown): fact is ParameterizedFactName {
  return parameterizedFactNames.includes(fact as ParameterizedFactName);
}

/**
 * Reads a condition's `params` for a parameterized fact: the parsed form, or the problems keyed by the params
 * key at fault. Shared by the rule schema and the compiler, which must agree.
 */
export function readFactParams(
  fact: ParameterizedFactName,
  params: unknown,
): { params: FactParams } | { problems: Array<{ key: string; message: string }> } {
  if (typeof params !== 'object' || params === null || Array.isArray(params)) {
    return {
      problems: [
        {
          key: '',
          message: fact === 'window' ? 'must be an object: {fn, field, size}' : 'must be an object: {field}',
        },
      ],
    };
  }
  const record = params as Record<string, unknown>;
  const allowed = fact === 'window' ? ['fn', 'field', 'size'] : ['field'];
  const problems = Object.keys(record)
    .filter((key) => !allowed.includes(key))
    .map((key) => ({ key, message: `unknown key (${fact} takes ${allowed.join(', ')})` }));
  if (typeof record.field !== 'string' || !fieldName.test(record.field)) {
    problems.push({ key: 'field', message: 'must be a telemetry field name such as speedKph' });
  }
  if (fact !== 'window') {
    return problems.length > 0 ? { problems } : { params: { fact, field: record.field as string } };
  }
  if (!windowFunctions.includes(record.fn as WindowFunction)) {
    problems.push({ key: 'fn', message: `must be one of ${windowFunctions.join(', ')}` });
  }
  let sizeMs = 0;
  try {
    sizeMs = parseDuration(record.size as string);
    if (sizeMs < 1_000 || sizeMs > maxWindowMs) problems.push({ key: 'size', message: 'must be 1s to 24h' });
  } catch {
    problems.push({ key: 'size', message: 'must be a duration such as 30s, 5m, 1h' });
  }
  if (problems.length > 0) return { problems };
  return { params: { fact, fn: record.fn as WindowFunction, field: record.field as string, sizeMs } };
}

/** Where a parameterized fact's value sits in the facts; built from validated parts only. */
export function parameterizedFactKey(params: FactParams): string {
  return params.fact === 'window'
    ? `window:${params.fn}:${params.field}:${params.sizeMs}`
    : `${params.fact}:${params.field}`;
}

/** json-rules-engine's dynamic facts for the parameterized names, reading the values cep wrote. */
export function parameterizedFacts(): Array<
  [ParameterizedFactName, (params: unknown, almanac: Almanac) => unknown]
> {
  return parameterizedFactNames.map((fact) => [
    fact,
    (params, almanac) => {
      const read = readFactParams(fact, params);
      return 'params' in read ? almanac.factValue(parameterizedFactKey(read.params)) : undefined;
    },
  ]);
}

interface Almanac {
  factValue(id: string): Promise<unknown>;
}

/** The parameterized facts (window, change, rate) a condition tree reads, with their parameters. */
export function parameterizedFactsReadBy(condition: Condition): FactParams[] {
  if ('all' in condition) return condition.all.flatMap(parameterizedFactsReadBy);
  if ('any' in condition) return condition.any.flatMap(parameterizedFactsReadBy);
  if ('not' in condition) return parameterizedFactsReadBy(condition.not);
  if (!isParameterizedFact(condition.fact)) return [];
  const read = readFactParams(condition.fact, condition.params);
  return 'params' in read ? [read.params] : [];
}

/**
 * The message fields a condition tree reads, directly or through a parameterized fact: a message carrying none of
 * them tells the rule nothing. Derived facts without a field (secondsSinceLastMessage) count as always carried.
 */
export function fieldsReadBy(condition: Condition): string[] {
  if ('all' in condition) return [...new Set(condition.all.flatMap(fieldsReadBy))];
  if ('any' in condition) return [...new Set(condition.any.flatMap(fieldsReadBy))];
  if ('not' in condition) return fieldsReadBy(condition.not);
  if (condition.fact === secondsSinceLastMessage) return [];
  if (!isParameterizedFact(condition.fact)) return [condition.fact];
  const read = readFactParams(condition.fact, condition.params);
  return 'params' in read ? [read.params.field] : [];
}

/** Fills `informs[i]` with whether the facts carry a field condition set i reads (see `fieldsReadBy`). */
export function informedConditionSets(
  sets: ReadonlyArray<{ conditions: Condition }>,
): (facts: Facts, informs: Uint8Array) => void {
  const fields = sets.map((set) => fieldsReadBy(set.conditions));
  return (facts, informs) => {
    for (let index = 0; index < fields.length; index++) {
      const read = fields[index]!;
      let carried = read.length === 0;
      for (let field = 0; !carried && field < read.length; field++)
        carried = facts[read[field]!] !== undefined;
      informs[index] = carried ? 1 : 0;
    }
  };
}
