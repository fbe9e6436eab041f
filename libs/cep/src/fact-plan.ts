import { parameterizedFactKey, parameterizedFactsReadBy, type Facts, type Rule } from '@fleetlog/rules';
import { copyNumbers, doubleArray, SlidingWindow, type WindowFunction } from '@fleetlog/windows';

/** One sliding window a vehicle keeps: a field over a span, with the functions some rule asks of it. */
export interface WindowSpec {
  field: string;
  sizeMs: number;
  functions: WindowFunction[];
  /** Each function's key (see `parameterizedFactKey`). */
  keys: Array<[WindowFunction, string]>;
}

/**
 * A vehicle's numbers, in one array of doubles (see `doubleArray`), beginning with what it remembers between
 * messages for the rules to read: the windows' panes, read through the plan's window objects, then from
 * `FactPlan.previousAt` the latest in-order value of each `previousFields` entry and its event time, NaN until seen
 * (kept per field, so that a message without the field, a trouble-code message amid readings, changes nothing).
 * After `FactPlan.stateLength` numbers come the owner's own (cep's absence deadline and aggregates), which the plan
 * carries along: one array a vehicle rather than two saves it about 50 bytes.
 */
export type DerivedState = number[];

/**
 * The facts the rules read beyond the message itself, worked out once per rule set: the engine reads the rules to
 * know which windows to keep, so a vehicle pays only for what some rule uses. Their values go into a `derived`
 * array in the order of the compiled rule set's `derivedKeys`, not into the message object: a parsed message that
 * grows dozens of keys per event becomes a slow dictionary in V8.
 */
export class FactPlan {
  readonly windows: WindowSpec[];
  /** Fields whose previous value `change` or `rate` needs. */
  readonly previousFields: string[];
  private readonly changeSlots: number[];
  private readonly rateSlots: number[];
  private readonly windowSlots: Array<Array<[WindowFunction, number]>>;

  /** `derivedKeys`: the slots of the `derived` array, as the compiled rule set reads them. */
  constructor(rules: readonly Rule[], derivedKeys: readonly string[]) {
    const params = rules
      .filter((rule) => rule.enabled)
      .flatMap((rule) => [rule.conditions, rule.then?.conditions])
      .flatMap((conditions) => (conditions ? parameterizedFactsReadBy(conditions) : []));
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
    let length = 0;
    this.windowOffsets = this.windows.map((spec) => {
      const offset = length;
      length += SlidingWindow.lengthFor(spec.sizeMs, spec.functions);
      return offset;
    });
    this.previousAt = length;
    this.previousFields = [...new Set([...changes, ...rates])];
    const slotOf = (key: string) => derivedKeys.indexOf(key);
    this.changeSlots = this.previousFields.map((field) =>
      slotOf(parameterizedFactKey({ fact: 'change', field })),
    );
    this.rateSlots = this.previousFields.map((field) =>
      slotOf(parameterizedFactKey({ fact: 'rate', field })),
    );
    this.windowSlots = this.windows.map((spec) => spec.keys.map(([fn, key]) => [fn, slotOf(key)]));
    this.emptyState = doubleArray(this.previousAt + this.previousFields.length * 2, 0);
    this.emptyState.fill(Number.NaN, this.previousAt);
    // Each window marks its part of the array empty as it is built on it.
    this.windowViews = this.windows.map(
      (spec, index) =>
        new SlidingWindow(spec.sizeMs, spec.functions, 10, {
          buffer: this.emptyState,
          offset: this.windowOffsets[index]!,
        }),
    );
  }

  /** The longest window: how far back in event time a rebuild must read for windows to be whole. */
  get lookbackMs(): number {
    return Math.max(0, ...this.windows.map((spec) => spec.sizeMs));
  }

  /** How many numbers at the start of a vehicle's array are the plan's. */
  get stateLength(): number {
    return this.emptyState.length;
  }

  /** A new vehicle's numbers: the plan's, empty, then `after` (the owner's). */
  newState(after: readonly number[]): DerivedState {
    const state = doubleArray(this.stateLength + after.length, 0);
    copyNumbers(this.emptyState, 0, state, 0, this.stateLength);
    copyNumbers(after, 0, state, this.stateLength, after.length);
    return state;
  }

  /**
   * A vehicle's numbers under this plan, taken over from `previous` after a rule change: windows this plan keeps too
   * (same field, size and functions) and previous values of fields it still needs keep what they hold, so a new
   * version of a rule over a 10-minute window does not start blind; the rest start empty. The owner's numbers after
   * the plan's move along unchanged.
   */
  carryOver(previous: FactPlan, state: DerivedState): DerivedState {
    const next = this.newState(state.slice(previous.stateLength));
    this.windows.forEach((spec, index) => {
      const from = previous.windows.findIndex((old) => sameWindow(old, spec));
      if (from === -1) return;
      const start = previous.windowOffsets[from]!;
      const length = SlidingWindow.lengthFor(spec.sizeMs, spec.functions);
      copyNumbers(state, start, next, this.windowOffsets[index]!, length);
    });
    this.previousFields.forEach((field, index) => {
      const from = previous.previousFields.indexOf(field);
      if (from === -1) return;
      const start = previous.previousAt + 2 * from;
      copyNumbers(state, start, next, this.previousAt + 2 * index, 2);
    });
    return next;
  }

  /** Where each window's numbers start in a `DerivedState`. */
  private readonly windowOffsets: number[];
  /** Where the previous values start in a `DerivedState`: after every window. */
  private readonly previousAt: number;
  /** What a vehicle starts with: empty windows, previous values unseen. */
  private readonly emptyState: DerivedState;
  /** One per window spec, pointed at a vehicle's state for each use (see `SlidingWindow.over`). */
  private readonly windowViews: SlidingWindow[];

  /** Adds a message's readings to the windows; out-of-order messages within lateness count too. */
  addToWindows(state: DerivedState, eventTime: number, facts: Facts): void {
    for (let index = 0; index < this.windows.length; index++) {
      const value = facts[this.windows[index]!.field];
      if (typeof value === 'number') this.windowViews[index]!.over(state).add(eventTime, value);
    }
  }

  /**
   * Writes `secondsSinceLastMessage` into `facts` and the derived facts of an in-order message into `derived`, and
   * remembers its readings for the next one. `previousTime` is the vehicle's previous in-order message.
   */
  derive(
    state: DerivedState,
    eventTime: number,
    previousTime: number | undefined,
    facts: Facts,
    derived: unknown[],
  ): void {
    // A named store, not `facts[secondsSinceLastMessage]`: V8 turns an object with more than 12 properties outside
    // its own fields into a slow dictionary when a computed key adds one, and a decoded record has 15 or more there.
    facts.secondsSinceLastMessage =
      previousTime === undefined ? undefined : (eventTime - previousTime) / 1000;
    const at = this.previousAt;
    for (let index = 0; index < this.previousFields.length; index++) {
      const value = facts[this.previousFields[index]!];
      const changeSlot = this.changeSlots[index]!;
      const rateSlot = this.rateSlots[index]!;
      if (typeof value !== 'number') {
        if (changeSlot >= 0) derived[changeSlot] = undefined;
        if (rateSlot >= 0) derived[rateSlot] = undefined;
        continue;
      }
      const before = state[at + 2 * index]!;
      const seconds = (eventTime - state[at + 2 * index + 1]!) / 1000;
      const change = Number.isNaN(before) ? undefined : value - before;
      if (changeSlot >= 0) derived[changeSlot] = change;
      if (rateSlot >= 0)
        derived[rateSlot] = change !== undefined && seconds > 0 ? change / seconds : undefined;
      state[at + 2 * index] = value;
      state[at + 2 * index + 1] = eventTime;
    }
    for (let index = 0; index < this.windows.length; index++) {
      const window = this.windowViews[index]!.over(state);
      for (const [fn, slot] of this.windowSlots[index]!) {
        if (slot >= 0) derived[slot] = window.value(fn, eventTime);
      }
    }
  }
}

function sameWindow(a: WindowSpec, b: WindowSpec): boolean {
  return (
    a.field === b.field &&
    a.sizeMs === b.sizeMs &&
    a.functions.length === b.functions.length &&
    a.functions.every((fn) => b.functions.includes(fn))
  );
}
