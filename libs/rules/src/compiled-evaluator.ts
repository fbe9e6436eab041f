import {
  JsonRulesEngineEvaluator,
  type ConditionEvaluator,
  type ConditionSet,
  type Facts,
} from './condition-evaluator';
import { isParameterizedFact, parameterizedFactKey, readFactParams } from './fact-catalog';
import { builtInOperators } from './rule-schema';

/**
 * Rules compiled to JavaScript (one `new Function` per rule set), answering exactly as json-rules-engine 7.3.1
 * with allowUndefinedFacts does: the same matches, and a throw wherever its run would reject.
 *
 * Why the generated code is safe: a fact name or path segment reaches the source only after passing `identifier`
 * here (whatever the schema said), and then only as a JSON string literal in bracket access (`f["speedKph"]`);
 * every condition value is a JSON literal; operators come from the fixed `operatorTemplates` table; rule ids
 * never enter the source (matches are reported as indices).
 */

type Operator = (typeof builtInOperators)[number];
type Literal = string | number | boolean | null;
type ConditionValue = Literal | Literal[];

export interface CompileOptions {
  /**
   * Rules to leave to json-rules-engine although they compile: a per-rule escape hatch should the compiler ever be
   * suspected of answering differently. Such rules can only be evaluated asynchronously (`matchingRuleIds`).
   */
  readonly interpretedRuleIds?: Iterable<string>;
}

export interface CompiledRuleSet extends ConditionEvaluator {
  /** Ids of the compiled rules; `matchInto` reports matches as indices into this array. */
  readonly ruleIds: readonly string[];
  /** Ids of the rules evaluated by json-rules-engine instead (see `CompileOptions.interpretedRuleIds`). */
  readonly interpretedRuleIds: readonly string[];
  /** The generated JavaScript, to read when a rule surprises. */
  readonly source: string;
  /**
   * The keys (see `parameterizedFactKey`) of the window, change and rate facts the rules read, in the order
   * `matchInto` expects their values in `derived`.
   */
  readonly derivedKeys: readonly string[];
  /**
   * The fastest shape: writes the indices (into `ruleIds`) of the rules whose conditions hold to `matched`, which
   * must have room for `ruleIds.length` entries, and returns how many it wrote. The values of `derivedKeys` come in
   * `derived` (a caller-owned array reused per message keeps the facts object small and fast for V8); without it
   * they are read from `facts` under their keys. Throws where json-rules-engine's run would reject, and when some
   * rules are interpreted.
   */
  matchInto(facts: Facts, matched: Uint32Array, derived?: ArrayLike<unknown>): number;
  /** `matchInto` as a set of rule ids. */
  matchSync(facts: Facts): Set<string>;
  /** Every rule, interpreted ones included; rejects where json-rules-engine's run would. */
  matchingRuleIds(facts: Facts): Promise<Set<string>>;
}

/** A rule the compiler refuses: it would not have passed `validateRule`, so it never came from a rule file. */
export class RuleCompilationError extends Error {
  constructor(
    readonly ruleId: string,
    /** JSON Pointer into the rule document. */
    readonly location: string,
    problem: string,
  ) {
    super(`rule "${ruleId}" ${location}: ${problem}`);
    this.name = 'RuleCompilationError';
  }
}

/** What the compiler itself accepts as a fact name or path segment, independently of the schema. */
const identifier = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** json-rules-engine emits each rule's event type on an EventEmitter2, where an unheard "error" event rejects. */
const eventEmitterErrorType = 'error';
/**
 * TurboFan leaves functions above 60 KiB of bytecode to the slower tiers, so the rules are split into functions
 * of about this many conditions (whole rules each), each reading the facts it needs again. 400 conditions of the
 * heaviest shape, a three-step path each, make 34 KiB.
 */
const conditionsPerFunction = 400;

export function compileRules(rules: readonly ConditionSet[], options: CompileOptions = {}): CompiledRuleSet {
  const interpretedIds = new Set(options.interpretedRuleIds);
  const compiled = rules.filter((rule) => !interpretedIds.has(rule.id));
  const interpreted = rules.filter((rule) => interpretedIds.has(rule.id));
  return new GeneratedRuleSet(compiled, interpreted);
}

type GeneratedMatcher = (facts: Facts, derived: ArrayLike<unknown>, matched: Uint32Array) => number;

class GeneratedRuleSet implements CompiledRuleSet {
  readonly ruleIds: readonly string[];
  readonly interpretedRuleIds: readonly string[];
  readonly source: string;
  readonly derivedKeys: readonly string[];
  private readonly match: GeneratedMatcher;
  private readonly interpreter: JsonRulesEngineEvaluator | undefined;
  private readonly scratch: Uint32Array;
  /** Why json-rules-engine rejects every run of these rules, if it does. */
  private readonly everyRunFails: string | undefined;
  private readonly errorEventIndex: number;

  constructor(compiled: readonly ConditionSet[], interpreted: readonly ConditionSet[]) {
    const generator = new RuleSetGenerator();
    this.source = generator.generate(compiled);
    this.derivedKeys = [...generator.derivedKeys.keys()];
    this.everyRunFails = generator.everyRunFails[0];
    this.match = new Function('hasOwn', 'passesNumberValidator', this.source)(
      Object.hasOwn,
      passesNumberValidator,
    ) as GeneratedMatcher;
    this.ruleIds = compiled.map((rule) => rule.id);
    this.interpretedRuleIds = interpreted.map((rule) => rule.id);
    this.interpreter = interpreted.length > 0 ? new JsonRulesEngineEvaluator(interpreted) : undefined;
    this.scratch = new Uint32Array(compiled.length);
    this.errorEventIndex = this.ruleIds.indexOf(eventEmitterErrorType);
  }

  matchInto(facts: Facts, matched: Uint32Array, derived?: ArrayLike<unknown>): number {
    if (this.interpreter) {
      throw new Error(
        `rules ${this.interpretedRuleIds.join(', ')} are left to json-rules-engine, which only answers asynchronously: use matchingRuleIds`,
      );
    }
    return this.matchCompiled(facts, matched, derived);
  }

  matchSync(facts: Facts): Set<string> {
    return this.idsOf(this.matchInto(facts, this.scratch));
  }

  async matchingRuleIds(facts: Facts): Promise<Set<string>> {
    const ids = this.idsOf(this.matchCompiled(facts, this.scratch));
    if (this.interpreter) for (const id of await this.interpreter.matchingRuleIds(facts)) ids.add(id);
    return ids;
  }

  /** The generated code plus json-rules-engine's run failures that do not depend on a single condition. */
  private matchCompiled(facts: Facts, matched: Uint32Array, derived?: ArrayLike<unknown>): number {
    if (this.everyRunFails) throw new TypeError(this.everyRunFails);
    // Its run turns every key for...in yields into a Fact, whose constructor refuses an empty id.
    if ('' in facts) throw new Error('json-rules-engine refuses a fact with an empty name');
    const count = this.match(facts, derived ?? this.derivedKeys.map((key) => facts[key]), matched);
    if (this.errorEventIndex !== -1 && matched.subarray(0, count).includes(this.errorEventIndex)) {
      throw new Error(
        `rule "${eventEmitterErrorType}" held: json-rules-engine's unheard "error" event rejects the run`,
      );
    }
    return count;
  }

  private idsOf(count: number): Set<string> {
    const ids = new Set<string>();
    for (let position = 0; position < count; position++) ids.add(this.ruleIds[this.scratch[position]!]!);
    return ids;
  }
}

/**
 * json-rules-engine's numberValidator for the numeric operators: parseFloat reads the fact's string form, so
 * "12abc", " 7", "Infinity" and [5] pass while true, null and {} do not.
 */
function passesNumberValidator(value: unknown): boolean {
  return !Number.isNaN(Number.parseFloat(value as string));
}

/** What a leaf's code template may ask of the generator. */
interface LeafEmitter {
  /** A literal in the source; arrays are hoisted, as json-rules-engine too compares against one array instance. */
  literal(value: ConditionValue): string;
  /** A hoisted `Set` of the array's elements. */
  setOf(values: Literal[]): string;
  /** The condition converts the fact to a string, which throws for some objects: see `GeneratedFunction.source`. */
  convertsToString(input: string): void;
  /** json-rules-engine throws for this condition whatever the facts. */
  failsEveryRun(problem: string): string;
}

/** Returns a JavaScript expression; the caller parenthesises it. */
type OperatorTemplate = (input: string, value: ConditionValue, emit: LeafEmitter) => string;

/**
 * json-rules-engine's operator callbacks, each `validator(fact) && callback(fact, value)`, as code. Comparisons
 * are the very JavaScript operators it uses, so coercions (numeric strings, null as 0, arrays joined) agree.
 */
function numericComparison(operator: '<' | '<=' | '>' | '>='): OperatorTemplate {
  return (input, value, emit) => {
    emit.convertsToString(input);
    const compared = `${input} ${operator} ${emit.literal(value)}`;
    // A number passes the validator unless NaN, and NaN compares false anyway: numbers need no validator call.
    return `typeof ${input} === "number" ? ${compared} : passesNumberValidator(${input}) && ${compared}`;
  };
}

function membership(negated: boolean): OperatorTemplate {
  return (input, value, emit) => {
    // json-rules-engine runs value.indexOf(fact). On an array literal that is strict equality, which a Set's
    // SameValueZero matches because literals are never NaN; on a string it is a substring search of String(fact).
    if (Array.isArray(value)) return `${negated ? '!' : ''}${emit.setOf(value)}.has(${input})`;
    if (typeof value === 'string') {
      emit.convertsToString(input);
      return `${emit.literal(value)}.indexOf(${input}) ${negated ? '===' : '>'} -1`;
    }
    return emit.failsEveryRun(
      `"${negated ? 'notIn' : 'in'}" with the ${typeof value} value ${String(value)}`,
    );
  };
}

function containment(negated: boolean): OperatorTemplate {
  return (input, value, emit) =>
    `Array.isArray(${input}) && ${input}.indexOf(${emit.literal(value)}) ${negated ? '===' : '>'} -1`;
}

const operatorTemplates: ReadonlyMap<string, OperatorTemplate> = new Map<Operator, OperatorTemplate>([
  ['equal', (input, value, emit) => `${input} === ${emit.literal(value)}`],
  ['notEqual', (input, value, emit) => `${input} !== ${emit.literal(value)}`],
  ['lessThan', numericComparison('<')],
  ['lessThanInclusive', numericComparison('<=')],
  ['greaterThan', numericComparison('>')],
  ['greaterThanInclusive', numericComparison('>=')],
  ['in', membership(false)],
  ['notIn', membership(true)],
  ['contains', containment(false)],
  ['doesNotContain', containment(true)],
]);

/** Source text of a JSON value, the only way rule content enters generated code. */
function json(value: ConditionValue): string {
  return JSON.stringify(value);
}

function isLiteral(value: unknown): value is Literal {
  return (
    value === null ||
    typeof value === 'boolean' ||
    typeof value === 'string' ||
    (typeof value === 'number' && Number.isFinite(value))
  );
}

function isConditionValue(value: unknown): value is ConditionValue {
  return isLiteral(value) || (Array.isArray(value) && value.every(isLiteral));
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const leafKeys = new Set(['fact', 'operator', 'value', 'path', 'params']);

function groupOf(node: unknown): 'all' | 'any' | 'not' | undefined {
  if (!isPlainObject(node)) return undefined;
  return (['all', 'any', 'not'] as const).find((group) => Object.hasOwn(node, group));
}

/**
 * One generated function: the facts and path results its rules read, each once per call into a local variable,
 * then one check per rule.
 */
class GeneratedFunction {
  /** Conditions compiled into this function so far, its size in effect. */
  conditionCount = 0;
  private readonly variables = new Map<string, string>();
  private readonly statements: string[] = [];
  private readonly converted = new Set<string>();
  private readonly checks: string[] = [];

  /** json-rules-engine's almanac value for a fact, then its path if the fact is an object (arrays too). */
  input(fact: string, segments: readonly string[]): string {
    const key = [fact, ...segments].join('.');
    const known = this.variables.get(key);
    if (known !== undefined) return known;
    if (segments.length === 0) {
      return this.declare(key, (variable) => `const ${variable} = ${factRead(fact)};`);
    }
    const whole = this.input(fact, []);
    // jsonpath-plus follows a segment only when the value is truthy and has it as an own property, and yields
    // undefined once a step fails; a primitive fact is used as it is, path or not.
    return this.declare(key, (variable) => {
      const steps = segments.map(
        (segment) =>
          `${variable} = ${variable} && hasOwn(${variable}, ${json(segment)}) ? ${variable}[${json(segment)}] : undefined;`,
      );
      return `let ${variable} = ${whole}; if (typeof ${variable} === "object" && ${variable} !== null) { ${steps.join(' ')} }`;
    });
  }

  /** The value of derived fact `index` (a window, change or rate fact), read once per call. */
  derivedInput(index: number): string {
    const key = `#${index}`;
    return this.variables.get(key) ?? this.declare(key, (variable) => `const ${variable} = d[${index}];`);
  }

  convertsToString(input: string): void {
    this.converted.add(input);
  }

  addRule(index: number, condition: string): void {
    this.checks.push(`if (${condition}) matched[n++] = ${index};`);
  }

  /**
   * The reads, then a string conversion of every object that some condition converts: json-rules-engine
   * evaluates every condition of every rule (no short-circuit), so one unconvertible object (own "toString" key
   * in JSON) rejects its run even when our short-circuit would skip that condition. Numbers skip all this.
   */
  source(name: string): string {
    const probes = [...this.converted].map(
      (input) => `if (typeof ${input} === "object" && ${input} !== null) String(${input});`,
    );
    return [
      `function ${name}(f, d, matched, n) {`,
      ...this.statements,
      ...probes,
      ...this.checks,
      'return n;',
      '}',
    ].join('\n');
  }

  private declare(key: string, statement: (variable: string) => string): string {
    const variable = `v${this.variables.size}`;
    this.variables.set(key, variable);
    this.statements.push(statement(variable));
    return variable;
  }
}

/**
 * json-rules-engine looks facts up in a Map filled by for...in over the facts: own and inherited enumerable keys.
 * A plain read agrees, except for names Object.prototype defines (non-enumerable, so absent there unless own).
 */
function factRead(fact: string): string {
  const read = `f[${json(fact)}]`;
  return fact in Object.prototype ? `(hasOwn(f, ${json(fact)}) ? ${read} : undefined)` : read;
}

class RuleSetGenerator {
  readonly everyRunFails: string[] = [];
  /** Derived fact keys and their slots in `d`. */
  readonly derivedKeys = new Map<string, number>();
  private readonly constants: string[] = [];

  generate(rules: readonly ConditionSet[]): string {
    const functions = [new GeneratedFunction()];
    rules.forEach((rule, index) => {
      if (functions.at(-1)!.conditionCount >= conditionsPerFunction) functions.push(new GeneratedFunction());
      const target = functions.at(-1)!;
      target.addRule(index, this.root(rule, target));
    });
    const names = functions.map((_, index) => `rules${index}`);
    return [
      '"use strict";',
      ...this.constants,
      ...functions.map((generated, index) => generated.source(names[index]!)),
      'return function match(f, d, matched) {',
      'let n = 0;',
      ...names.map((name) => `n = ${name}(f, d, matched, n);`),
      'return n;',
      '};',
    ].join('\n');
  }

  private root(rule: ConditionSet, target: GeneratedFunction): string {
    // json-rules-engine's addRule refuses a bare leaf at the root.
    if (groupOf(rule.conditions) === undefined) {
      throw new RuleCompilationError(rule.id, '/conditions', 'the root must be {all}, {any} or {not}');
    }
    return this.condition(rule.conditions, '/conditions', rule.id, target);
  }

  private condition(node: unknown, location: string, ruleId: string, target: GeneratedFunction): string {
    if (!isPlainObject(node)) {
      throw new RuleCompilationError(ruleId, location, 'a condition must be an object');
    }
    const group = groupOf(node);
    if (group === undefined) return `(${this.leaf(node, location, ruleId, target)})`;
    if (Object.keys(node).length !== 1) {
      throw new RuleCompilationError(ruleId, location, `"${group}" must stand alone in its object`);
    }
    if (group === 'not') return `!${this.condition(node.not, `${location}/not`, ruleId, target)}`;
    const children = node[group];
    if (!Array.isArray(children)) {
      throw new RuleCompilationError(ruleId, location, `"${group}" must be an array`);
    }
    // json-rules-engine holds an empty "all" and an empty "any" alike.
    if (children.length === 0) return 'true';
    const compiled = children.map((child, index) =>
      this.condition(child, `${location}/${group}/${index}`, ruleId, target),
    );
    return `(${compiled.join(group === 'all' ? ' && ' : ' || ')})`;
  }

  private leaf(
    leaf: Record<string, unknown>,
    location: string,
    ruleId: string,
    target: GeneratedFunction,
  ): string {
    const refuse = (key: string, problem: string) =>
      new RuleCompilationError(ruleId, `${location}/${key}`, problem);
    const unknownKey = Object.keys(leaf).find((key) => !leafKeys.has(key));
    if (unknownKey !== undefined) throw refuse(unknownKey, 'not a key of a condition the compiler knows');
    const { fact, operator, value, path, params } = leaf;
    if (typeof fact !== 'string' || !identifier.test(fact)) {
      throw refuse('fact', 'must be a plain identifier');
    }
    let derivedSlot: number | undefined;
    if (isParameterizedFact(fact)) {
      const read = readFactParams(fact, params);
      if ('problems' in read)
        throw refuse('params', read.problems.map((problem) => problem.message).join('; '));
      if (path !== undefined) throw refuse('path', 'a parameterized fact takes no path');
      // Only the slot number enters the source; the key stays in `derivedKeys`.
      const key = parameterizedFactKey(read.params);
      derivedSlot = this.derivedKeys.get(key) ?? this.derivedKeys.size;
      this.derivedKeys.set(key, derivedSlot);
    } else if (params !== undefined) {
      throw refuse('params', 'only the facts window, change and rate take params');
    }
    const template = typeof operator === 'string' ? operatorTemplates.get(operator) : undefined;
    if (!template) throw refuse('operator', 'not a built-in operator');
    if (!Object.hasOwn(leaf, 'value') || !isConditionValue(value)) {
      throw refuse('value', 'must be a JSON literal or an array of them');
    }
    const segments = pathSegments(path);
    if (!segments) throw refuse('path', 'must be $ followed by .identifier segments');
    target.conditionCount++;
    return template(
      derivedSlot === undefined ? target.input(fact, segments) : target.derivedInput(derivedSlot),
      value,
      this.emitterFor(target, `rule "${ruleId}" ${location}`),
    );
  }

  private emitterFor(target: GeneratedFunction, where: string): LeafEmitter {
    return {
      literal: (value) => (Array.isArray(value) ? this.constant(json(value)) : json(value)),
      setOf: (values) => this.constant(`new Set(${json(values)})`),
      convertsToString: (input) => target.convertsToString(input),
      failsEveryRun: (problem) => {
        this.everyRunFails.push(`${where}: json-rules-engine throws on every run for ${problem}`);
        return 'false';
      },
    };
  }

  private constant(expression: string): string {
    const name = `k${this.constants.length}`;
    this.constants.push(`const ${name} = ${expression};`);
    return name;
  }
}

/** The segments of `$.a.b`, none for no path, undefined for anything else. */
function pathSegments(path: unknown): string[] | undefined {
  if (path === undefined) return [];
  if (typeof path !== 'string' || !path.startsWith('$.')) return undefined;
  const segments = path.slice(2).split('.');
  return segments.every((segment) => identifier.test(segment)) ? segments : undefined;
}
