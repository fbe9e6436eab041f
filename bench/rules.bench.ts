/**
 * Rule evaluation throughput, json-rules-engine against the compiled evaluator, on fleet-like rules and simulated
 * telemetry. The rules read window, rate and change facts besides the readings: cep's FactPlan works those out per
 * message before the timed loops, so that both evaluators see the very same facts, and one more row times FactPlan
 * and the compiled evaluator together. Single-threaded by nature, so it measures one core (the box's other core
 * may be busy: the load average is recorded). Run after `npm run build`: node bench/rules.bench.ts
 */
import { loadavg } from 'node:os';
import { referenceWorkMicroseconds } from './support/process-usage.ts';
import { machineDescription, writeReport } from './support/report.ts';
import {
  JsonRulesEngineEvaluator,
  conditionSetsOf,
  parameterizedFactKey,
  readFactParams,
  validateRule,
  type Facts,
  type ParameterizedFactName,
  type Rule,
} from '../dist/libs/rules/src/index.js';
import { compileRules, type CompiledRuleSet } from '../dist/libs/rules/src/compiled-evaluator.js';
import { FactPlan, type DerivedState } from '../dist/libs/cep/src/fact-plan.js';
import {
  SimulatedVehicle,
  driveProfiles,
  seededRandom,
  type DriveProfileName,
} from '../dist/libs/simulation/src/index.js';

const ruleCounts = [10, 100, 1000];
const referenceSeconds = 2;
const compiledRuns = 5;
const compiledRunSeconds = 0.5;
const warmUpSeconds = 0.5;
/** Firing rates a generated rule must have on the calibration sample, like real alert thresholds. */
const firingRate = { min: 0.04, max: 0.12 };
const vehicleCount = 60;
const sampleSeconds = 400;
/** Telemetry ahead of the sample that only fills the windows, so that the 5-minute ones are whole in the sample. */
const windowFillSeconds = 300;
/** Which kind of fact a generated condition reads, by share of conditions. */
const leafKinds = [
  { kind: 'reading', share: 0.6 },
  { kind: 'window', share: 0.3 },
  { kind: 'rate or change', share: 0.1 },
] as const;
type LeafKind = (typeof leafKinds)[number]['kind'];

/** Telemetry as cep receives it: simulated vehicles interleaved tick by tick, each message through JSON. */
function telemetry(vehicleCount: number, seconds: number): Facts[] {
  const profiles: DriveProfileName[] = ['mixed', 'urban', 'highway'];
  const vehicles = Array.from({ length: vehicleCount }, (_, index) => {
    const start = { fleetId: 'bench', vehicleId: `v${index}`, seed: index + 1, lat: 52.5, lon: 13.4 };
    return new SimulatedVehicle(start, driveProfiles[profiles[index % profiles.length]!](index));
  });
  const messages: Facts[] = [];
  const clock = Date.parse('2025-01-01T00:00:00Z');
  for (let second = 0; second < seconds; second++) {
    for (const vehicle of vehicles) {
      messages.push(JSON.parse(JSON.stringify(vehicle.tick(new Date(clock + second * 1000), 1))) as Facts);
    }
  }
  return messages;
}

/** What a condition reads: a telemetry field (at a path), or a parameterized fact that cep writes under `key`. */
interface Reading {
  kind: LeafKind;
  fact: string;
  path?: string;
  params?: Record<string, string>;
  /** Where the value sits in the facts. */
  key: string;
}

const plainReadings: Reading[] = [
  { fact: 'speedKph' },
  { fact: 'rpm' },
  { fact: 'coolantTempC' },
  { fact: 'engineLoadPct' },
  { fact: 'fuelLevelPct' },
  { fact: 'batteryV' },
  { fact: 'throttlePct' },
  { fact: 'position', path: '$.gnssSpeedKph' },
].map((reading) => ({ kind: 'reading', key: reading.fact, ...reading }));

function parameterized(kind: LeafKind, fact: ParameterizedFactName, params: Record<string, string>): Reading {
  const read = readFactParams(fact, params);
  if (!('params' in read)) throw new Error(`bad params ${JSON.stringify(params)}`);
  return { kind, fact, params, key: parameterizedFactKey(read.params) };
}

/** 5 signals × 3 sizes × 5 functions: 15 windows per vehicle once every one is used (from about 100 rules on). */
const windowReadings: Reading[] = ['speedKph', 'rpm', 'coolantTempC', 'engineLoadPct', 'throttlePct'].flatMap(
  (field) =>
    ['30s', '1m', '5m'].flatMap((size) =>
      ['avg', 'max', 'min', 'stddev', 'delta'].map((fn) =>
        parameterized('window', 'window', { fn, field, size }),
      ),
    ),
);
const rateAndChangeReadings: Reading[] = [
  ...['speedKph', 'rpm', 'coolantTempC', 'throttlePct'].map((field) =>
    parameterized('rate or change', 'rate', { field }),
  ),
  ...['fuelLevelPct', 'speedKph', 'engineLoadPct'].map((field) =>
    parameterized('rate or change', 'change', { field }),
  ),
];
const readings = [...plainReadings, ...windowReadings, ...rateAndChangeReadings];

function readingOf(facts: Facts, { key, path }: Reading): number {
  const value = facts[key] as Record<string, number> | number;
  return path && typeof value === 'object' ? value[path.slice(2)]! : (value as number);
}

function leafOf(reading: Reading): Record<string, unknown> {
  return {
    fact: reading.fact,
    ...(reading.path && { path: reading.path }),
    ...(reading.params && { params: reading.params }),
  };
}

function ruleDocument(id: string, conditions: object): Rule {
  const validation = validateRule({
    id,
    version: 1,
    name: `generated rule ${id}`,
    severity: 'warning',
    conditions,
    message: 'threshold crossed',
  });
  if (!validation.valid) throw new Error(`generated an invalid rule: ${JSON.stringify(validation.problems)}`);
  return validation.rule;
}

interface DerivedEvent {
  /** The message as cep evaluates it: its own fields plus secondsSinceLastMessage. */
  message: Facts;
  /** Its window, change and rate values in the compiled set's `derivedKeys` slots, as `matchInto` takes them. */
  slots: unknown[];
  /** Message and derived values under their keys, as json-rules-engine's dynamic facts read them. */
  keyed: Facts;
}

/**
 * What cep does before evaluating (StreamProcessor.evaluate): each message into its vehicle's windows, then the
 * derived facts worked out into slots beside a copy of it. Returns the events from `from` on.
 */
function derivedEvents(
  plan: FactPlan,
  derivedKeys: readonly string[],
  messages: readonly Facts[],
  from: number,
): DerivedEvent[] {
  const states = Array.from({ length: vehicleCount }, () => plan.newState([]));
  const previousTimes: Array<number | undefined> = new Array<number | undefined>(vehicleCount);
  const events: DerivedEvent[] = [];
  messages.forEach((message, index) => {
    const vehicle = index % vehicleCount;
    const time = Date.parse(message.ts as string);
    const facts = { ...message };
    const slots: unknown[] = derivedKeys.map(() => undefined);
    plan.addToWindows(states[vehicle]!, time, facts);
    plan.derive(states[vehicle]!, time, previousTimes[vehicle], facts, slots);
    previousTimes[vehicle] = time;
    if (index < from) return;
    const keyed = { ...facts, ...Object.fromEntries(derivedKeys.map((key, slot) => [key, slots[slot]])) };
    events.push({ message: facts, slots, keyed });
  });
  return events;
}

function planFor(rules: Rule[]): { plan: FactPlan; derivedKeys: readonly string[] } {
  const { derivedKeys } = compileRules(conditionSetsOf(rules));
  return { plan: new FactPlan(rules, derivedKeys), derivedKeys };
}

/**
 * Rules of 1 to 3 threshold conditions over distinct readings, window facts and rates or changes, thresholds taken
 * from quantiles and kept only when the rule fires on a realistic share of the calibration sample.
 */
function fleetRules(count: number, calibration: readonly Facts[], random: () => number): Rule[] {
  const sorted = readings.map((reading) =>
    calibration.map((facts) => readingOf(facts, reading)).sort((a, b) => a - b),
  );
  const quantile = (readingIndex: number, q: number) =>
    sorted[readingIndex]![Math.floor(q * (calibration.length - 1))]!;
  const indicesOf = (kind: LeafKind) =>
    [...readings.keys()].filter((index) => readings[index]!.kind === kind);
  const byKind = new Map(leafKinds.map(({ kind }) => [kind, indicesOf(kind)]));
  const pickKind = (): LeafKind => {
    let draw = random();
    for (const { kind, share } of leafKinds) if ((draw -= share) < 0) return kind;
    return leafKinds[0].kind;
  };
  const rules: Rule[] = [];
  const matched = new Uint32Array(1);
  while (rules.length < count) {
    const leafCount = 1 + Math.floor(random() * 3);
    const group = leafCount > 1 && random() < 0.3 ? 'any' : 'all';
    const target = firingRate.min + random() * (firingRate.max - firingRate.min);
    const leafRate = group === 'all' ? target ** (1 / leafCount) : target / leafCount;
    const chosen = new Set<number>();
    while (chosen.size < leafCount) {
      const candidates = byKind.get(pickKind())!;
      chosen.add(candidates[Math.floor(random() * candidates.length)]!);
    }
    const leaves = [...chosen].map((readingIndex) => {
      const reading = readings[readingIndex]!;
      const high = random() < 0.7;
      const at = quantile(readingIndex, high ? 1 - leafRate : leafRate);
      const threshold = reading.kind === 'reading' ? Math.round(at * 10) / 10 : Number(at.toPrecision(3));
      const operators = high ? ['greaterThan', 'greaterThanInclusive'] : ['lessThan', 'lessThanInclusive'];
      return { ...leafOf(reading), operator: operators[Math.floor(random() * 2)]!, value: threshold };
    });
    const rule = ruleDocument(`rule-${rules.length}`, { [group]: leaves });
    const single = compileRules(conditionSetsOf([rule]));
    const fired =
      calibration.filter((facts) => single.matchInto(facts, matched) > 0).length / calibration.length;
    if (fired >= firingRate.min && fired <= firingRate.max) rules.push(rule);
  }
  return rules;
}

interface Measurement {
  eventsPerSecond: number;
  processed: number;
  /** Rule matches over all processed events. */
  matches: number;
}

/**
 * Events per second of a synchronous evaluation, over a time-bounded loop through the sample; `startPass` runs
 * (timed) before each pass.
 */
function measureSync(
  evaluate: (facts: Facts, index: number) => number,
  events: readonly Facts[],
  seconds: number,
  startPass?: () => void,
): Measurement {
  let processed = 0;
  let matches = 0;
  const start = performance.now();
  const deadline = start + seconds * 1000;
  let now = start;
  while (now < deadline) {
    startPass?.();
    for (let index = 0; index < events.length; index++) matches += evaluate(events[index]!, index);
    processed += events.length;
    now = performance.now();
  }
  return { eventsPerSecond: (processed / (now - start)) * 1000, processed, matches };
}

/**
 * Events per second of an asynchronous evaluation. A slow evaluator gets through few events in its time, so it
 * strides through the sample rather than reading its first (cold-start) stretch only, and looks at the clock
 * every `checkEvery` events (1 for json-rules-engine, which takes up to tens of ms per event at 1,000 rules).
 */
async function measureAsync(
  evaluate: (facts: Facts) => Promise<Set<string>>,
  events: readonly Facts[],
  seconds: number,
  check?: (facts: Facts, matched: Set<string>) => void,
  checkEvery = 64,
): Promise<Measurement> {
  const stride = 7919;
  if (events.length % stride === 0) throw new Error('the stride must not divide the sample size');
  let processed = 0;
  let matches = 0;
  const start = performance.now();
  const deadline = start + seconds * 1000;
  let now = start;
  while (now < deadline) {
    const facts = events[(processed * stride) % events.length]!;
    const matched = await evaluate(facts);
    check?.(facts, matched);
    matches += matched.size;
    processed++;
    if (processed % checkEvery === 0) now = performance.now();
  }
  now = performance.now();
  return { eventsPerSecond: (processed / (now - start)) * 1000, processed, matches };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

interface Row {
  rules: number;
  evaluator: string;
  eventsPerSecond: number;
  runs: number[];
  firingRate: number;
}

/** What a rule set reads, for the report. */
interface RuleSetShape {
  rules: number;
  conditions: Record<LeafKind, number>;
  /** Sliding windows FactPlan keeps per vehicle for these rules, and facts it writes per message. */
  windowsPerVehicle: number;
  derivedFacts: number;
}

function shapeOf(rules: readonly Rule[], plan: FactPlan): RuleSetShape {
  const conditions: Record<LeafKind, number> = { reading: 0, window: 0, 'rate or change': 0 };
  const rateAndChangeKeys = new Set<string>();
  const count = (node: Record<string, unknown>): void => {
    for (const group of ['all', 'any'] as const) {
      if (Array.isArray(node[group])) (node[group] as Array<Record<string, unknown>>).forEach(count);
    }
    if (node.not) count(node.not as Record<string, unknown>);
    if (typeof node.fact !== 'string') return;
    if (node.fact === 'window') conditions.window++;
    else if (node.fact === 'rate' || node.fact === 'change') {
      conditions['rate or change']++;
      rateAndChangeKeys.add(`${node.fact}:${(node.params as { field: string }).field}`);
    } else conditions.reading++;
  };
  for (const rule of rules) count(rule.conditions as Record<string, unknown>);
  const windowKeys = plan.windows.reduce((total, spec) => total + spec.keys.length, 0);
  // plus secondsSinceLastMessage, which derive always writes
  return {
    rules: rules.length,
    conditions,
    windowsPerVehicle: plan.windows.length,
    derivedFacts: windowKeys + rateAndChangeKeys.size + 1,
  };
}

async function benchmark(
  ruleCount: number,
  rules: Rule[],
  messages: readonly Facts[],
): Promise<{ rows: Row[]; shape: RuleSetShape }> {
  const compiled: CompiledRuleSet = compileRules(conditionSetsOf(rules));
  const reference = new JsonRulesEngineEvaluator(conditionSetsOf(rules));
  const matched = new Uint32Array(rules.length);
  const firing = (matches: number, processed: number) => matches / processed / ruleCount;
  const sampleFrom = windowFillSeconds * vehicleCount;
  const plan = new FactPlan(rules, compiled.derivedKeys);
  const derivedEventsOfSample = derivedEvents(plan, compiled.derivedKeys, messages, sampleFrom);
  const events = derivedEventsOfSample.map((event) => event.keyed);
  const plainMessages = derivedEventsOfSample.map((event) => event.message);
  const slotsOf = derivedEventsOfSample.map((event) => event.slots);
  const scratchSlots: unknown[] = compiled.derivedKeys.map(() => undefined);

  // FactPlan in the timed loop: fresh windows per pass through the sample, each message a copy without derived facts.
  const raw = messages.slice(sampleFrom).map((message) => ({ ...message }));
  const times = Float64Array.from(raw, (message) => Date.parse(message.ts as string));
  const states: DerivedState[] = [];
  const previousTimes = new Float64Array(vehicleCount);
  const freshWindows = () => {
    for (let vehicle = 0; vehicle < vehicleCount; vehicle++) states[vehicle] = plan.newState([]);
    previousTimes.fill(Number.NaN);
  };
  const deriveAndMatch = (facts: Facts, index: number) => {
    const vehicle = index % vehicleCount;
    const time = times[index]!;
    const state = states[vehicle]!;
    const previous = previousTimes[vehicle]!;
    plan.addToWindows(state, time, facts);
    plan.derive(state, time, Number.isNaN(previous) ? undefined : previous, facts, scratchSlots);
    previousTimes[vehicle] = time;
    return compiled.matchInto(facts, matched, scratchSlots);
  };

  const variants: Array<{
    evaluator: string;
    run: (seconds: number) => Promise<Measurement>;
  }> = [
    {
      evaluator: 'compiled matchInto (indices)',
      run: async (seconds) =>
        measureSync(
          (facts, index) => compiled.matchInto(facts, matched, slotsOf[index]),
          plainMessages,
          seconds,
        ),
    },
    {
      evaluator: 'FactPlan + compiled matchInto',
      run: async (seconds) => measureSync(deriveAndMatch, raw, seconds, freshWindows),
    },
    {
      evaluator: 'compiled matchSync (Set)',
      run: async (seconds) => measureSync((facts) => compiled.matchSync(facts).size, events, seconds),
    },
    {
      evaluator: 'compiled matchingRuleIds (await)',
      run: (seconds) => measureAsync((facts) => compiled.matchingRuleIds(facts), events, seconds),
    },
  ];
  const rows: Row[] = [];
  for (const { evaluator, run } of variants) {
    await run(warmUpSeconds);
    const runs: Measurement[] = [];
    for (let index = 0; index < compiledRuns; index++) runs.push(await run(compiledRunSeconds));
    const typical = runs.find(
      (result) => result.eventsPerSecond === median(runs.map((r) => r.eventsPerSecond)),
    )!;
    rows.push({
      rules: ruleCount,
      evaluator,
      eventsPerSecond: typical.eventsPerSecond,
      runs: runs.map((result) => Math.round(result.eventsPerSecond)),
      firingRate: firing(typical.matches, typical.processed),
    });
  }

  let disagreements = 0;
  const agrees = (facts: Facts, expected: Set<string>) => {
    const actual = compiled.matchSync(facts);
    if (actual.size !== expected.size || [...actual].some((id) => !expected.has(id))) disagreements++;
  };
  await measureAsync((facts) => reference.matchingRuleIds(facts), events, warmUpSeconds / 2, undefined, 1);
  const referenceRun = await measureAsync(
    (facts) => reference.matchingRuleIds(facts),
    events,
    referenceSeconds,
    agrees,
    1,
  );
  if (disagreements > 0)
    throw new Error(`${disagreements} events where compiled and json-rules-engine disagree`);
  rows.unshift({
    rules: ruleCount,
    evaluator: 'json-rules-engine',
    eventsPerSecond: referenceRun.eventsPerSecond,
    runs: [Math.round(referenceRun.eventsPerSecond)],
    firingRate: firing(referenceRun.matches, referenceRun.processed),
  });
  return { rows, shape: shapeOf(rules, plan) };
}

function table(rows: Row[]): string {
  const header = ['rules', 'evaluator', 'events/s', 'µs/event', 'vs json-rules-engine', 'rules firing'];
  const lines = rows.map((row) => {
    const reference = rows.find(
      (other) => other.rules === row.rules && other.evaluator === 'json-rules-engine',
    )!;
    return [
      String(row.rules),
      row.evaluator,
      Math.round(row.eventsPerSecond).toLocaleString('en-US'),
      (1e6 / row.eventsPerSecond).toFixed(3),
      `${Math.round(row.eventsPerSecond / reference.eventsPerSecond).toLocaleString('en-US')}x`,
      `${(row.firingRate * 100).toFixed(1)}%`,
    ];
  });
  const widths = header.map((title, column) =>
    Math.max(title.length, ...lines.map((line) => line[column]!.length)),
  );
  const format = (cells: string[]) => cells.map((cell, column) => cell.padEnd(widths[column]!)).join('  ');
  return [format(header), format(widths.map((width) => '-'.repeat(width))), ...lines.map(format)].join('\n');
}

const random = seededRandom(20250101);
const messages = telemetry(vehicleCount, windowFillSeconds + sampleSeconds);
// Every window, rate and change the rules may read, worked out once to calibrate thresholds on.
const catalogue = planFor(
  [...windowReadings, ...rateAndChangeReadings].map((reading, index) =>
    ruleDocument(`catalogue-${index}`, { all: [{ ...leafOf(reading), operator: 'equal', value: 0 }] }),
  ),
);
const calibration = derivedEvents(
  catalogue.plan,
  catalogue.derivedKeys,
  messages,
  windowFillSeconds * vehicleCount,
)
  .filter((_, index) => index % 4 === 0)
  .map((event) => event.keyed);
const loadAtStart = loadavg();
const rows: Row[] = [];
const shapes: RuleSetShape[] = [];
referenceWorkMicroseconds(); // compiles the reference loop, so that the first figure is comparable
// How fast the shared machine was, before and after (not in between: its garbage changes V8's heap sizing).
const referenceBefore = referenceWorkMicroseconds();
for (const ruleCount of ruleCounts) {
  const rules = fleetRules(ruleCount, calibration, random);
  const { rows: measured, shape } = await benchmark(ruleCount, rules, messages);
  rows.push(...measured);
  shapes.push(shape);
  process.stdout.write(
    `measured ${ruleCount} rules: conditions ${JSON.stringify(shape.conditions)}, ` +
      `${shape.windowsPerVehicle} windows per vehicle, ${shape.derivedFacts} derived facts per message\n`,
  );
}
const referenceMicroseconds = { before: referenceBefore, after: referenceWorkMicroseconds() };
process.stdout.write(
  `\n${table(rows)}\n\nreference work ${referenceMicroseconds.before.toFixed(1)} µs before, ` +
    `${referenceMicroseconds.after.toFixed(1)} µs after\n`,
);
const report = {
  ...machineDescription(loadAtStart),
  method: {
    events: sampleSeconds * vehicleCount,
    windowFillEvents: windowFillSeconds * vehicleCount,
    referenceSeconds,
    compiled: `median of ${compiledRuns} runs of ${compiledRunSeconds} s after ${warmUpSeconds} s warm-up`,
    factPlan: 'FactPlan + compiled matchInto: windows emptied before each pass through the sample (timed)',
  },
  referenceMicroseconds,
  ruleSets: shapes,
  results: rows.map((row) => ({ ...row, eventsPerSecond: Math.round(row.eventsPerSecond) })),
};
writeReport('rules', report);
