import { compileRules, conditionSetsOf, validateRule, type Facts, type Rule } from '@fleetlog/rules';
import { FactPlan } from './fact-plan';

function rule(id: string, conditions: unknown): Rule {
  const validation = validateRule({ id, version: 1, name: id, severity: 'info', conditions, message: 'm' });
  if (!validation.valid) throw new Error(JSON.stringify(validation.problems));
  return validation.rule;
}

const avgSpeed5m = {
  fact: 'window',
  params: { fn: 'avg', field: 'speedKph', size: '5m' },
  operator: 'greaterThan',
  value: 1,
};
const maxSpeed300s = {
  fact: 'window',
  params: { fn: 'max', field: 'speedKph', size: '300s' },
  operator: 'equal',
  value: 0,
};
const fuelChange = { fact: 'change', params: { field: 'fuelLevelPct' }, operator: 'lessThan', value: -5 };
const speedRate = { fact: 'rate', params: { field: 'speedKph' }, operator: 'lessThan', value: -12 };

/** A plan for the rules as cep builds it, and a reader of its derived values by key. */
function planFor(rules: Rule[]) {
  const { derivedKeys } = compileRules(conditionSetsOf(rules));
  const plan = new FactPlan(rules, derivedKeys);
  const derived: unknown[] = derivedKeys.map(() => undefined);
  const values = (facts: Facts) => ({
    ...facts,
    ...Object.fromEntries(derivedKeys.map((key, slot) => [key, derived[slot]])),
  });
  const derive = (
    state: ReturnType<FactPlan['newState']>,
    time: number,
    previous: number | undefined,
    facts: Facts,
  ) => {
    plan.derive(state, time, previous, facts, derived);
    return values(facts);
  };
  return { plan, derive };
}

describe('FactPlan', () => {
  it('keeps one window per field and size, with just the functions the rules ask for', () => {
    const { plan } = planFor([rule('a', { all: [avgSpeed5m] }), rule('b', { any: [{ not: maxSpeed300s }] })]);
    expect(plan.windows).toEqual([
      expect.objectContaining({ field: 'speedKph', sizeMs: 300_000, functions: ['avg', 'max'] }),
    ]);
    expect(plan.lookbackMs).toBe(300_000);
  });

  it('keeps nothing for rules that read only the message', () => {
    const { plan } = planFor([rule('a', { all: [{ fact: 'speedKph', operator: 'greaterThan', value: 1 }] })]);
    expect(plan.windows).toEqual([]);
    expect(plan.previousFields).toEqual([]);
  });

  it('derives change, rate, window values and seconds since the last message', () => {
    const { plan, derive } = planFor([rule('a', { all: [avgSpeed5m, fuelChange, speedRate] })]);
    const state = plan.newState([]);
    const first: Facts = { speedKph: 100, fuelLevelPct: 50 };
    plan.addToWindows(state, 0, first);
    expect(derive(state, 0, undefined, first)).toMatchObject({
      secondsSinceLastMessage: undefined,
      'change:fuelLevelPct': undefined,
    });
    const second: Facts = { speedKph: 70, fuelLevelPct: 44 };
    plan.addToWindows(state, 2_000, second);
    expect(derive(state, 2_000, 0, second)).toMatchObject({
      secondsSinceLastMessage: 2,
      'change:fuelLevelPct': -6,
      'rate:speedKph': -15,
      'window:avg:speedKph:300000': 85,
    });
    expect(Object.keys(second)).toEqual(['speedKph', 'fuelLevelPct', 'secondsSinceLastMessage']);
  });

  it('keeps each vehicle’s windows and previous values apart, though one set of window objects reads them all', () => {
    const { plan, derive } = planFor([rule('a', { all: [avgSpeed5m, maxSpeed300s, speedRate] })]);
    const [slow, fast] = [plan.newState([]), plan.newState([])];
    for (const [time, slowSpeed, fastSpeed] of [
      [0, 10, 100],
      [1_000, 20, 130],
    ] as const) {
      plan.addToWindows(slow, time, { speedKph: slowSpeed });
      plan.addToWindows(fast, time, { speedKph: fastSpeed });
    }
    const previous = 0;
    expect(derive(slow, 1_000, previous, { speedKph: 20 })).toMatchObject({
      'window:avg:speedKph:300000': 15,
      'window:max:speedKph:300000': 20,
    });
    expect(derive(fast, 1_000, previous, { speedKph: 130 })).toMatchObject({
      'window:avg:speedKph:300000': 115,
      'window:max:speedKph:300000': 130,
    });
    expect(derive(slow, 2_000, 1_000, { speedKph: 26 })['rate:speedKph']).toBe(6);
    expect(plan.newState([])).toEqual(plan.newState([]));
    expect(
      derive(plan.newState([]), 0, undefined, { speedKph: 1 })['window:avg:speedKph:300000'],
    ).toBeUndefined();
  });

  it('keeps the owner’s numbers after its own, also when a rule change moves a vehicle to another plan', () => {
    const { plan } = planFor([rule('a', { all: [avgSpeed5m] })]);
    const state = plan.newState([7, 8]);
    plan.addToWindows(state, 0, { speedKph: 100 });
    expect(state.slice(plan.stateLength)).toEqual([7, 8]);
    const { plan: next, derive } = planFor([rule('a', { all: [avgSpeed5m, speedRate] })]);
    const carried = next.carryOver(plan, state);
    expect(carried).toHaveLength(next.stateLength + 2);
    expect(carried.slice(next.stateLength)).toEqual([7, 8]);
    next.addToWindows(carried, 1_000, { speedKph: 50 });
    expect(derive(carried, 1_000, 0, { speedKph: 50 })['window:avg:speedKph:300000']).toBe(75);
  });

  it('carries a field’s previous value across a message without it, rating over the time between readings', () => {
    const { plan, derive } = planFor([rule('a', { all: [fuelChange, speedRate] })]);
    const state = plan.newState([]);
    derive(state, 0, undefined, { speedKph: 60, fuelLevelPct: 50 });
    expect(derive(state, 1_000, 0, { dtcs: ['P0217'] })['rate:speedKph']).toBeUndefined();
    expect(derive(state, 2_000, 1_000, { speedKph: 30, fuelLevelPct: 49 })).toMatchObject({
      'change:fuelLevelPct': -1,
      'rate:speedKph': -15,
      secondsSinceLastMessage: 1,
    });
  });
});
