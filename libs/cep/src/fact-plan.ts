import {
  isParameterizedFact,
  parameterizedFactKey,
  readFactParams,
  secondsSinceLastMessage,
  type Condition,
  type FactParams,
  type Facts,
  type Rule,
} from '@fleetlog/rules';
import { SlidingWindow, type WindowFunction } from '@fleetlog/windows';

/** One sliding window a vehicle keeps: a field over a span, with the functions some rule asks of it. */
export interface WindowSpec {
  field: string;
  sizeMs: number;
  functions: WindowFunction[];
  /** Where each function's value goes in the facts. */
  keys: Array<[WindowFunction, string]>;
}

/** What the vehicle remembers between messages for the rules to read. */
export interface DerivedState {
  windows: SlidingWindow[];
  /**
   * Latest in-order value of each `previousFields` entry at [2i] and its event time at [2i + 1], NaN until seen.
   * Kept per field, so that a message without the field (a trouble-code message amid readings) changes nothing.
   */
  previous: Float64Array;
}

/**
 * The facts the rules read beyond the message itself, worked out once per rule set: the engine reads the rules to
 * know which windows to keep, so a vehicle pays only for what some rule uses.
 */
export class FactPlan {
  readonly windows: WindowSpec[];
  /** Fields whose previous value `change` or `rate` needs. */
  readonly previousFields: string[];
  private readonly changeKeys: Array<string | undefined>;
  private readonly rateKeys: Array<string | undefined>;

  constructor(rules: readonly Rule[]) {
    const params = rules
      .filter((rule) => rule.enabled)
      .flatMap((rule) => [rule.conditions, rule.then?.conditions])
      .flatMap((conditions) => (conditions ? parameterizedLeaves(conditions) : []));
    const windows = new Map<string, WindowSpec>();
    const changes = new Set<string>();
    const rates = new Set<string>();
    for (const param of params) {
      if (param.fact === 'window') {
        const id = `${param.field}:${param.sizeMs}`;
        const spec = windows.get(id) ?? { field: param.field, sizeMs: param.sizeMs, functions: [], keys: [] };
        if (!spec.functions.includes(param.fn)) {
          spec.functions.push(param.fn);
          spec.keys.push([param.fn, parameterizedFactKey(param)]);
        }
        windows.set(id, spec);
      } else {
        (param.fact === 'change' ? changes : rates).add(param.field);
      }
    }
    this.windows = [...windows.values()];
    this.previousFields = [...new Set([...changes, ...rates])];
    this.changeKeys = this.previousFields.map((field) =>
      changes.has(field) ? parameterizedFactKey({ fact: 'change', field }) : undefined,
    );
    this.rateKeys = this.previousFields.map((field) =>
      rates.has(field) ? parameterizedFactKey({ fact: 'rate', field }) : undefined,
    );
  }

  /** The longest window: how far back in event time a rebuild must read for windows to be whole. */
  get lookbackMs(): number {
    return Math.max(0, ...this.windows.map((spec) => spec.sizeMs));
  }

  newState(): DerivedState {
    return {
      windows: this.windows.map((spec) => new SlidingWindow(spec.sizeMs, spec.functions)),
      previous: new Float64Array(this.previousFields.length * 2).fill(Number.NaN),
    };
  }

  /** Adds a message's readings to the windows; out-of-order messages within lateness count too. */
  addToWindows(state: DerivedState, eventTime: number, facts: Facts): void {
    for (let index = 0; index < this.windows.length; index++) {
      const value = facts[this.windows[index]!.field];
      if (typeof value === 'number') state.windows[index]!.add(eventTime, value);
    }
  }

  /**
   * Writes the derived facts of an in-order message into `facts` and remembers its readings for the next one.
   * `previousTime` is the vehicle's previous in-order message, undefined for its first.
   */
  derive(state: DerivedState, eventTime: number, previousTime: number | undefined, facts: Facts): void {
    facts[secondsSinceLastMessage] =
      previousTime === undefined ? undefined : (eventTime - previousTime) / 1000;
    const previous = state.previous;
    for (let index = 0; index < this.previousFields.length; index++) {
      const value = facts[this.previousFields[index]!];
      const changeKey = this.changeKeys[index];
      const rateKey = this.rateKeys[index];
      if (typeof value !== 'number') {
        if (changeKey) facts[changeKey] = undefined;
        if (rateKey) facts[rateKey] = undefined;
        continue;
      }
      const before = previous[2 * index]!;
      const seconds = (eventTime - previous[2 * index + 1]!) / 1000;
      const change = Number.isNaN(before) ? undefined : value - before;
      if (changeKey) facts[changeKey] = change;
      if (rateKey) facts[rateKey] = change !== undefined && seconds > 0 ? change / seconds : undefined;
      previous[2 * index] = value;
      previous[2 * index + 1] = eventTime;
    }
    for (let index = 0; index < this.windows.length; index++) {
      const window = state.windows[index]!;
      for (const [fn, key] of this.windows[index]!.keys) facts[key] = window.value(fn, eventTime);
    }
  }
}

function parameterizedLeaves(condition: Condition): FactParams[] {
  if ('all' in condition) return condition.all.flatMap(parameterizedLeaves);
  if ('any' in condition) return condition.any.flatMap(parameterizedLeaves);
  if ('not' in condition) return parameterizedLeaves(condition.not);
  if (!isParameterizedFact(condition.fact)) return [];
  const read = readFactParams(condition.fact, condition.params);
  return 'params' in read ? [read.params] : [];
}
