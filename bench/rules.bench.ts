/**
 * Rule evaluation throughput, json-rules-engine against the compiled evaluator, on fleet-like rules and simulated
 * telemetry. Single-threaded by nature, so it measures one core (the box's other core may be busy: the load
 * average is recorded). Run after `npm run build`: node bench/rules.bench.ts
 */
import { loadavg } from 'node:os';
import { machineDescription, writeReport } from './support/report.ts';
import {
  JsonRulesEngineEvaluator,
  validateRule,
  type Facts,
  type Rule,
} from '../dist/libs/rules/src/index.js';
import { compileRules, type CompiledRuleSet } from '../dist/libs/rules/src/compiled-evaluator.js';
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

interface Reading {
  fact: string;
  path?: string;
}
const readings: Reading[] = [
  { fact: 'speedKph' },
  { fact: 'rpm' },
  { fact: 'coolantTempC' },
  { fact: 'engineLoadPct' },
  { fact: 'fuelLevelPct' },
  { fact: 'batteryV' },
  { fact: 'throttlePct' },
  { fact: 'position', path: '$.gnssSpeedKph' },
];

function readingOf(facts: Facts, { fact, path }: Reading): number {
  const value = facts[fact] as Record<string, number> | number;
  return path && typeof value === 'object' ? value[path.slice(2)]! : (value as number);
}

/**
 * Rules of 1 to 3 threshold conditions over distinct readings, thresholds taken from the readings' quantiles and
 * kept only when the rule fires on a realistic share of the calibration sample.
 */
function fleetRules(count: number, calibration: readonly Facts[], random: () => number): Rule[] {
  const sorted = readings.map((reading) =>
    calibration.map((facts) => readingOf(facts, reading)).sort((a, b) => a - b),
  );
  const quantile = (readingIndex: number, q: number) =>
    sorted[readingIndex]![Math.floor(q * (calibration.length - 1))]!;
  const rules: Rule[] = [];
  const matched = new Uint32Array(1);
  while (rules.length < count) {
    const leafCount = 1 + Math.floor(random() * 3);
    const group = leafCount > 1 && random() < 0.3 ? 'any' : 'all';
    const target = firingRate.min + random() * (firingRate.max - firingRate.min);
    const leafRate = group === 'all' ? target ** (1 / leafCount) : target / leafCount;
    const chosen = [...readings.keys()].sort(() => random() - 0.5).slice(0, leafCount);
    const leaves = chosen.map((readingIndex) => {
      const high = random() < 0.7;
      const threshold = Math.round(quantile(readingIndex, high ? 1 - leafRate : leafRate) * 10) / 10;
      const operators = high ? ['greaterThan', 'greaterThanInclusive'] : ['lessThan', 'lessThanInclusive'];
      return { ...readings[readingIndex]!, operator: operators[Math.floor(random() * 2)]!, value: threshold };
    });
    const validation = validateRule({
      id: `rule-${rules.length}`,
      version: 1,
      name: `generated rule ${rules.length}`,
      severity: 'warning',
      conditions: { [group]: leaves },
      message: 'threshold crossed',
    });
    if (!validation.valid)
      throw new Error(`generated an invalid rule: ${JSON.stringify(validation.problems)}`);
    const single = compileRules([validation.rule]);
    const fired =
      calibration.filter((facts) => single.matchInto(facts, matched) > 0).length / calibration.length;
    if (fired >= firingRate.min && fired <= firingRate.max) rules.push(validation.rule);
  }
  return rules;
}

interface Measurement {
  eventsPerSecond: number;
  processed: number;
  /** Rule matches over all processed events. */
  matches: number;
}

/** Events per second of a synchronous evaluation, over a time-bounded loop through the sample. */
function measureSync(
  evaluate: (facts: Facts) => number,
  events: readonly Facts[],
  seconds: number,
): Measurement {
  let processed = 0;
  let matches = 0;
  const start = performance.now();
  const deadline = start + seconds * 1000;
  let now = start;
  while (now < deadline) {
    for (const facts of events) matches += evaluate(facts);
    processed += events.length;
    now = performance.now();
  }
  return { eventsPerSecond: (processed / (now - start)) * 1000, processed, matches };
}

/**
 * Events per second of an asynchronous evaluation. A slow evaluator gets through few events in its time, so it
 * strides through the sample rather than reading its first (cold-start) stretch only.
 */
async function measureAsync(
  evaluate: (facts: Facts) => Promise<Set<string>>,
  events: readonly Facts[],
  seconds: number,
  check?: (facts: Facts, matched: Set<string>) => void,
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
    if (processed % 64 === 0) now = performance.now();
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

async function benchmark(ruleCount: number, rules: Rule[], events: readonly Facts[]): Promise<Row[]> {
  const compiled: CompiledRuleSet = compileRules(rules);
  const reference = new JsonRulesEngineEvaluator(rules);
  const matched = new Uint32Array(rules.length);
  const firing = (matches: number, processed: number) => matches / processed / ruleCount;

  const variants: Array<{
    evaluator: string;
    run: (seconds: number) => Promise<Measurement>;
  }> = [
    {
      evaluator: 'compiled matchInto (indices)',
      run: async (seconds) => measureSync((facts) => compiled.matchInto(facts, matched), events, seconds),
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
  await measureAsync((facts) => reference.matchingRuleIds(facts), events, warmUpSeconds / 2);
  const referenceRun = await measureAsync(
    (facts) => reference.matchingRuleIds(facts),
    events,
    referenceSeconds,
    agrees,
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
  return rows;
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
const events = telemetry(60, 400);
const calibration = events.filter((_, index) => index % 4 === 0);
const loadAtStart = loadavg();
const rows: Row[] = [];
for (const ruleCount of ruleCounts) {
  rows.push(...(await benchmark(ruleCount, fleetRules(ruleCount, calibration, random), events)));
  process.stdout.write(`measured ${ruleCount} rules\n`);
}
process.stdout.write(`\n${table(rows)}\n\n`);
const report = {
  ...machineDescription(loadAtStart),
  method: {
    events: events.length,
    referenceSeconds,
    compiled: `median of ${compiledRuns} runs of ${compiledRunSeconds} s after ${warmUpSeconds} s warm-up`,
  },
  results: rows.map((row) => ({ ...row, eventsPerSecond: Math.round(row.eventsPerSecond) })),
};
writeReport('rules', report);
