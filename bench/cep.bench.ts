/**
 * The whole in-process hot path for a fleet of simulated vehicles, on one thread: MQTT payload bytes → the
 * gateway's TelemetryIngest (parse, schema validation, decoding) → the record bytes the gateway writes to Kafka →
 * cep's StreamProcessor (decode, watermarks, windows and derived facts, rule evaluation, alert decisions, absence
 * timers, per-vehicle aggregates) in Kafka-like batches. No broker, no Elasticsearch: their I/O is measured by the
 * gateway bench and left out here. Then the heap that the vehicles' state takes, per vehicle.
 *
 * Run after `npm run build`: node --expose-gc bench/cep.bench.ts (without --expose-gc it skips the memory part).
 * BENCH_VEHICLES (default 10000), BENCH_SECONDS (event time, default 150, in chunks of 30 s) and
 * BENCH_CEP_BREAKDOWN=0 (skips the state measurements with parts of the rule library) change what it does.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { referenceWorkMicroseconds } from './support/process-usage.ts';
import { machineDescription, writeReport } from './support/report.ts';
import { FactPlan } from '../dist/libs/cep/src/fact-plan.js';
import { StreamProcessor, type StreamProcessorOptions } from '../dist/libs/cep/src/stream-processor.js';
import { topicNames } from '../dist/libs/contracts/src/index.js';
import { datasetNames } from '../dist/libs/elasticsearch/src/index-templates.js';
import type { ConsumedRecord } from '../dist/libs/kafka/src/batch-consumer.js';
import { parseRuleSet, type Rule } from '../dist/libs/rules/src/index.js';
import { SimulatedVehicle, driveProfiles, type DriveProfileName } from '../dist/libs/simulation/src/index.js';
import { TelemetryIngest } from '../dist/libs/telemetry/src/telemetry-ingest.js';

// V8 drops the bytecode of functions unused for a while (start-up code: module loading, schema compilers) at
// garbage collection; that would shrink the heap between the baseline and the measurement and hide state.
setFlagsFromString('--no-flush-bytecode');

const vehicleCount = Number(process.env.BENCH_VEHICLES ?? 10_000);
const chunkSeconds = 30;
const eventSeconds = Math.max(chunkSeconds, Number(process.env.BENCH_SECONDS ?? 150));
const chunkCount = Math.ceil(eventSeconds / chunkSeconds);
const breakdown = process.env.BENCH_CEP_BREAKDOWN !== '0';
/** Records per StreamProcessor.process call: a Kafka fetch hands over one partition's records at a time. */
const batchSize = 500;
const partitionCount = 3;
/** The fleet the rule library scopes its geofence rule to, so that every rule applies to every vehicle. */
const fleetId = 'demo';
const processorOptions: StreamProcessorOptions = {
  jobVersion: 'v1',
  documents: 'derived',
  indices: datasetNames('bench', 'v1'),
  allowedLatenessMs: 30_000,
  aggregateWindowMs: 60_000,
  maxRebuildMs: 6 * 3_600_000,
  maxAggregatesPerCall: 1_000,
};
/** As the gateway configures it (its defaults). */
const ingestOptions = {
  maxPayloadBytes: 64 * 1024,
  maxNestingDepth: 32,
  maxFutureSkewMs: 300_000,
  maxAgeMs: 7 * 24 * 3_600_000,
};
const telemetryTopic = topicNames('bench').telemetry;
/** Event time starts an hour ago on a minute boundary: the gateway accepts it, and aggregate minutes line up. */
const startTime = Math.floor((Date.now() - 3_600_000) / 60_000) * 60_000;

function loadRuleLibrary(): Rule[] {
  const directory = fileURLToPath(new URL('../rules/', import.meta.url));
  const names = readdirSync(directory)
    .filter((name) => name.endsWith('.json'))
    .sort();
  return parseRuleSet(
    names.map((name) => ({ source: name, text: readFileSync(`${directory}${name}`, 'utf8') })),
  );
}

/** Rules that read window, rate or change facts: what makes FactPlan keep per-vehicle windows and previous values. */
function usesDerivedFacts(rule: Rule): boolean {
  const plan = new FactPlan([rule], []);
  return plan.windows.length > 0 || plan.previousFields.length > 0;
}

interface Fleet {
  vehicles: SimulatedVehicle[];
  topics: string[];
  /** Where within each second a vehicle sends: the fleet's messages spread evenly over the second. */
  offsetsMs: number[];
}

function fleet(): Fleet {
  const profiles: DriveProfileName[] = ['mixed', 'urban', 'highway'];
  const ids = Array.from({ length: vehicleCount }, (_, index) => `v-${String(index).padStart(5, '0')}`);
  return {
    vehicles: ids.map(
      (vehicleId, index) =>
        new SimulatedVehicle(
          { fleetId, vehicleId, seed: index + 1, lat: 52.5, lon: 13.4 },
          driveProfiles[profiles[index % profiles.length]!](index),
        ),
    ),
    topics: ids.map((vehicleId) => `fleet/${fleetId}/${vehicleId}/telemetry`),
    offsetsMs: ids.map((_, index) => Math.floor((index * 1000) / vehicleCount)),
  };
}

/** What the devices publish in one chunk of event time, in arrival order: second by second, vehicle by vehicle. */
function payloadsOf({ vehicles, offsetsMs }: Fleet, chunk: number): Buffer[] {
  const payloads: Buffer[] = [];
  for (let second = chunk * chunkSeconds; second < (chunk + 1) * chunkSeconds; second++) {
    vehicles.forEach((vehicle, index) => {
      const sentAt = new Date(startTime + second * 1000 + offsetsMs[index]!);
      payloads.push(Buffer.from(JSON.stringify(vehicle.tick(sentAt, 1))));
    });
  }
  return payloads;
}

interface ChunkResult {
  chunk: number;
  messages: number;
  wholeMs: number;
  processorMs: number;
  cpuMs: number;
  gcMs: number;
}

interface Totals {
  messages: number;
  rejected: number;
  unreadable: number;
  late: number;
  writes: number;
  alerts: number;
  alertsByRule: Record<string, number>;
}

interface Memory {
  heapUsed: number;
  arrayBuffers: number;
}

interface StateMeasurement {
  vehicles: number;
  /** Alerts active at the measurement: each keeps the facts of the message that raised it, about 1 KB. */
  activeAlerts: number;
  /** heapUsed + arrayBuffers after the run minus the same with the processor built and no vehicle seen. */
  bytesOverBaseline: number;
  /** What revoking every partition (dropping all vehicle and partition state) gives back. */
  bytesFreedOnRevoke: number;
  baseline: Memory;
  afterRun: Memory;
  afterRevoke: Memory;
}

const gcEntries: PerformanceEntry[] = [];
new PerformanceObserver((list) => gcEntries.push(...list.getEntries())).observe({ entryTypes: ['gc'] });
/** Lets the gc entries of what just ran reach the observer, which takes more than one turn of the event loop. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

function memory(): Memory {
  globalThis.gc!();
  globalThis.gc!();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return { heapUsed, arrayBuffers };
}

const bytes = ({ heapUsed, arrayBuffers }: Memory) => heapUsed + arrayBuffers;

/**
 * Drives the fleet through the hot path for `eventSeconds` of event time. The payloads of each 30 s chunk are
 * generated before its timed stretch; the gateway part (ingest, record bytes) and StreamProcessor.process run
 * interleaved as they would in one process, each batch timed on its own for the processor-only figure.
 */
async function runFleet(rules: readonly Rule[], measureState: boolean) {
  const devices = fleet();
  const ingest = new TelemetryIngest(ingestOptions);
  const processor = new StreamProcessor(rules, processorOptions);
  const partitionOf = devices.topics.map((_, index) => index % partitionCount);
  const pending: ConsumedRecord[][] = Array.from({ length: partitionCount }, () => []);
  const offsets = new Array<number>(partitionCount).fill(0);
  const totals: Totals = {
    messages: 0,
    rejected: 0,
    unreadable: 0,
    late: 0,
    writes: 0,
    alerts: 0,
    alertsByRule: {},
  };
  let processorMs = 0;
  const flush = (partition: number) => {
    const records = pending[partition]!;
    if (records.length === 0) return;
    const started = performance.now();
    const { writes, alerts, unreadable, late } = processor.process(records);
    processorMs += performance.now() - started;
    totals.writes += writes.length;
    totals.unreadable += unreadable.length;
    totals.late += late;
    for (const alert of alerts) {
      if (alert.status !== 'active') continue;
      totals.alerts++;
      totals.alertsByRule[alert.ruleId] = (totals.alertsByRule[alert.ruleId] ?? 0) + 1;
    }
    pending[partition] = [];
  };
  const baseline = measureState ? memory() : undefined;

  const chunks: ChunkResult[] = [];
  for (let chunk = 0; chunk < chunkCount; chunk++) {
    let payloads: Buffer[] | undefined = payloadsOf(devices, chunk);
    await settle();
    processorMs = 0;
    const cpuAtStart = process.cpuUsage();
    const started = performance.now();
    for (let index = 0; index < payloads.length; index++) {
      const vehicle = index % vehicleCount;
      // The gateway: one ingest call per MQTT message, the record serialised for Kafka.
      const outcome = ingest.ingest(devices.topics[vehicle]!, payloads[index]!, new Date());
      if (!outcome.accepted) {
        totals.rejected++;
        continue;
      }
      const value = outcome.bytes;
      // cep: the records of one partition, batch by batch.
      const partition = partitionOf[vehicle]!;
      const offset = offsets[partition]!++;
      pending[partition]!.push({
        topic: telemetryTopic,
        partition,
        offset: String(offset),
        key: outcome.record.vehicleId,
        value,
      });
      if (pending[partition]!.length === batchSize) flush(partition);
    }
    if (chunk === chunkCount - 1)
      for (let partition = 0; partition < partitionCount; partition++) flush(partition);
    const finished = performance.now();
    const cpu = process.cpuUsage(cpuAtStart);
    totals.messages += payloads.length;
    payloads = undefined;
    await settle();
    chunks.push({
      chunk: chunk + 1,
      messages: vehicleCount * chunkSeconds,
      wholeMs: finished - started,
      processorMs,
      cpuMs: (cpu.user + cpu.system) / 1000,
      gcMs: gcEntries
        .filter((entry) => entry.startTime >= started && entry.startTime < finished)
        .reduce((total, entry) => total + entry.duration, 0),
    });
  }
  gcEntries.length = 0;

  let state: StateMeasurement | undefined;
  if (baseline) {
    const afterRun = memory();
    const vehicles = processor.vehicleCount;
    const activeAlerts = processor.activeAlertCount;
    for (const partition of processor.assignedPartitions) processor.revoke(partition);
    const afterRevoke = memory();
    state = {
      vehicles,
      activeAlerts,
      bytesOverBaseline: bytes(afterRun) - bytes(baseline),
      bytesFreedOnRevoke: bytes(afterRun) - bytes(afterRevoke),
      baseline,
      afterRun,
      afterRevoke,
    };
  }
  return { chunks, totals, state, lookbackMs: processor.lookbackMs };
}

function rate(messages: number, ms: number): number {
  return Math.round((messages / ms) * 1000);
}

function summary(chunks: readonly ChunkResult[]) {
  const sum = (key: 'messages' | 'wholeMs' | 'processorMs' | 'cpuMs' | 'gcMs') =>
    chunks.reduce((total, chunk) => total + chunk[key], 0);
  const messages = sum('messages');
  return {
    messages,
    wholePathEventsPerSecond: rate(messages, sum('wholeMs')),
    /** Per second of this process's CPU time: corrects for the time the shared machine ran someone else. */
    wholePathEventsPerCpuSecond: rate(messages, sum('cpuMs')),
    processorEventsPerSecond: rate(messages, sum('processorMs')),
    gatewayPartEventsPerSecond: rate(messages, sum('wholeMs') - sum('processorMs')),
    wholePathMicrosPerEvent: (sum('wholeMs') * 1000) / messages,
    processorMicrosPerEvent: (sum('processorMs') * 1000) / messages,
    coresUsed: sum('cpuMs') / sum('wholeMs'),
    gcShare: sum('gcMs') / sum('wholeMs'),
  };
}

function formatTable(header: string[], lines: string[][]): string {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...lines.map((line) => line[column]!.length)),
  );
  // Labels to the left, figures to the right.
  const format = (cells: string[]) =>
    cells
      .map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!)))
      .join('  ');
  return [format(header), format(widths.map((width) => '-'.repeat(width))), ...lines.map(format)].join('\n');
}

const number = (value: number) => Math.round(value).toLocaleString('en-US');
const percent = (value: number) => `${(value * 100).toFixed(1)}%`;

if (typeof globalThis.gc !== 'function') {
  process.stdout.write('no --expose-gc: measuring throughput only, not the state per vehicle\n');
}
const measureState = typeof globalThis.gc === 'function';
const library = loadRuleLibrary();
referenceWorkMicroseconds(); // compiles the reference loop, so that the first figure is comparable
// Measured around the whole run, not between chunks: its burst of short-lived garbage just before a timed stretch
// changes how V8 sizes the young generation, and the hot path then spends 11% instead of 2% in garbage collection.
const referenceBefore = referenceWorkMicroseconds();
const loadAtStart = loadavg();
process.stdout.write(
  `${library.length} rules from rules/ (${library.map((rule) => rule.id).join(', ')}); ` +
    `${vehicleCount.toLocaleString('en-US')} vehicles, ${chunkCount} × ${chunkSeconds} s of event time\n`,
);
const main = await runFleet(library, measureState);
const referenceMicroseconds = { before: referenceBefore, after: referenceWorkMicroseconds() };
// Chunk 1 creates every vehicle's state and warms the JIT up: the steady figures leave it out when there are more.
const steadyChunks = main.chunks.length > 1 ? main.chunks.slice(1) : main.chunks;
const steadyLabel = `${steadyChunks[0]!.chunk}–${main.chunks.length}`;
const steady = summary(steadyChunks);
const overall = summary(main.chunks);

const chunkLines = main.chunks.map((chunk) => {
  const one = summary([chunk]);
  return [
    String(chunk.chunk),
    `${(chunk.chunk - 1) * chunkSeconds}–${chunk.chunk * chunkSeconds} s`,
    number(chunk.messages),
    number(one.wholePathEventsPerSecond),
    number(one.processorEventsPerSecond),
    number(one.gatewayPartEventsPerSecond),
    one.coresUsed.toFixed(2),
    percent(one.gcShare),
  ];
});
for (const [label, result] of [
  [steadyLabel, steady],
  ['all', overall],
] as const) {
  chunkLines.push([
    label,
    '',
    number(result.messages),
    number(result.wholePathEventsPerSecond),
    number(result.processorEventsPerSecond),
    number(result.gatewayPartEventsPerSecond),
    result.coresUsed.toFixed(2),
    percent(result.gcShare),
  ]);
}
process.stdout.write(
  `\nHot path, one thread: bytes → TelemetryIngest → record bytes → StreamProcessor.process ` +
    `(${partitionCount} partitions, batches of ${batchSize})\n\n` +
    formatTable(
      [
        'chunk',
        'event time',
        'messages',
        'whole path ev/s',
        'StreamProcessor ev/s',
        'gateway part ev/s',
        'CPU cores',
        'GC',
      ],
      chunkLines,
    ) +
    `\n\nwhole path ${steady.wholePathMicrosPerEvent.toFixed(2)} µs/event, StreamProcessor ` +
    `${steady.processorMicrosPerEvent.toFixed(2)} µs/event (chunks ${steadyLabel}); whole path ` +
    `${number(steady.wholePathEventsPerCpuSecond)} events per CPU-second; ` +
    `${number(main.totals.writes)} writes, ${number(main.totals.alerts)} alerts raised ` +
    `${JSON.stringify(main.totals.alertsByRule)}, ${main.totals.rejected} rejected, ${main.totals.late} late, ` +
    `${main.totals.unreadable} unreadable; reference work ${referenceMicroseconds.before.toFixed(1)} µs before, ` +
    `${referenceMicroseconds.after.toFixed(1)} µs after\n`,
);

const stateRows: Array<{ rules: string; ruleIds: string[]; state: StateMeasurement }> = [];
if (main.state)
  stateRows.push({ rules: 'rule library', ruleIds: library.map((r) => r.id), state: main.state });
if (measureState && breakdown) {
  const withoutDerived = library.filter((rule) => !usesDerivedFacts(rule));
  const variants = [
    // The bench's highway vehicles cruise above 120 km/h, so half the fleet holds an active overspeed alert.
    { rules: 'library minus overspeed', set: library.filter((rule) => rule.id !== 'overspeed') },
    { rules: 'library minus window/rate/change rules', set: withoutDerived },
    { rules: 'no rules', set: [] as Rule[] },
  ];
  for (const variant of variants) {
    const { state } = await runFleet(variant.set, true);
    stateRows.push({ rules: variant.rules, ruleIds: variant.set.map((r) => r.id), state: state! });
  }
}
if (stateRows.length > 0) {
  process.stdout.write(
    `\nState per vehicle after ${chunkCount * chunkSeconds} s of event time (heapUsed + arrayBuffers, after gc)\n\n` +
      formatTable(
        [
          'rules',
          'count',
          'vehicles',
          'active alerts',
          'B/vehicle over baseline',
          'B/vehicle freed on revoke',
        ],
        stateRows.map(({ rules, ruleIds, state }) => [
          rules,
          String(ruleIds.length),
          number(state.vehicles),
          number(state.activeAlerts),
          number(state.bytesOverBaseline / state.vehicles),
          number(state.bytesFreedOnRevoke / state.vehicles),
        ]),
      ) +
      '\n\n',
  );
}

writeReport('cep', {
  ...machineDescription(loadAtStart),
  method: {
    vehicles: vehicleCount,
    eventSeconds: chunkCount * chunkSeconds,
    chunkSeconds,
    partitions: partitionCount,
    batchSize,
    processorOptions: { ...processorOptions, indices: 'datasetNames(bench, v1)' },
    lookbackMs: main.lookbackMs,
    steady: `chunks ${steadyLabel}; chunk 1 includes creating every vehicle's state and JIT warm-up`,
  },
  rules: library.map((rule) => rule.id),
  referenceMicroseconds,
  steady,
  overall,
  chunks: main.chunks,
  totals: main.totals,
  statePerVehicle: stateRows.map(({ rules, ruleIds, state }) => ({
    rules,
    ruleIds,
    ...state,
    bytesPerVehicleOverBaseline: Math.round(state.bytesOverBaseline / state.vehicles),
    bytesPerVehicleFreedOnRevoke: Math.round(state.bytesFreedOnRevoke / state.vehicles),
  })),
});
