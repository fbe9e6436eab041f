/**
 * Replay speed: how fast a replay job reads the log, on this machine. A fleet's telemetry (simulated vehicles, as the
 * gateway writes it) is put on a fresh namespace's fleet.telemetry. The built cep starts as its own process with the
 * rule library and takes it in as it would live: the telemetry indexer stores every record and the live job v1
 * evaluates it (the ingest phase: the rate at which this box turns the log into documents). Then a replay job v2 with
 * the same rules is written to fleet.jobs, and the time until its commits reach the end of the log is the replay
 * speed. Also measured: the log's and the telemetry index's bytes per record, hence per vehicle-day at 1 Hz.
 * Run after `npm run build`: node --disable-warning=TimeoutNegativeWarning bench/replay.bench.ts
 * BENCH_REPLAY_VEHICLES (default 2000) and BENCH_REPLAY_SECONDS (event time, default 150) size the log.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  consumerGroupId,
  encodeTelemetryRecord,
  topicNames,
  topicSpecs,
} from '../dist/libs/contracts/src/index.js';
import { datasetNames, recordIndexNames } from '../dist/libs/elasticsearch/src/index.js';
import { driveProfiles, SimulatedVehicle } from '../dist/libs/simulation/src/index.js';
import { freePort, startApp, waitUntilReady } from '../tools/main/app-process.ts';
import { serviceLogFile, stackOptionsFromEnv } from '../tools/stack/local-stack.ts';
import { cleanUp, stopAtExit } from './support/exit-cleanup.ts';
import { coresUsed, residentMiB, sampleUsage } from './support/process-usage.ts';
import { machineDescription, writeReport } from './support/report.ts';
import { stackClients } from './support/stack-clients.ts';

const vehicles = Number(process.env.BENCH_REPLAY_VEHICLES ?? 2000);
const eventSeconds = Number(process.env.BENCH_REPLAY_SECONDS ?? 150);
const fleetId = 'demo';
const namespace = `bench-replay-${randomBytes(3).toString('hex')}`;
const loadAtStart = loadavg();

const { endpoints, kafka, elasticsearch, admin } = await stackClients();
const topics = topicNames(namespace);
stopAtExit(removeNamespace);
await admin.createTopics({
  waitForLeaders: true,
  topics: [
    {
      topic: topics.telemetry,
      numPartitions: topicSpecs.telemetry.numPartitions,
      replicationFactor: -1,
      configEntries: topicSpecs.telemetry.configEntries,
    },
  ],
});

// The log: every vehicle once a second for `eventSeconds`, ending now, as the gateway's records.
const total = vehicles * eventSeconds;
process.stdout.write(`writing ${total.toLocaleString('en-US')} records to ${topics.telemetry}…\n`);
const fleet = Array.from(
  { length: vehicles },
  (_, index) =>
    new SimulatedVehicle(
      { fleetId, vehicleId: `v-${String(index).padStart(5, '0')}`, seed: index + 1, lat: 52.5, lon: 13.4 },
      driveProfiles.mixed(index),
    ),
);
const producer = kafka.producer();
await producer.connect();
stopAtExit(() => producer.disconnect());
const start = Date.now() - eventSeconds * 1000;
for (let second = 0; second < eventSeconds; second++) {
  const receivedAt = new Date(start + second * 1000).toISOString();
  const messages = fleet.map((vehicle) => {
    const message = vehicle.tick(new Date(start + second * 1000), 1);
    return {
      key: message.vehicleId,
      value: encodeTelemetryRecord({ ...message, channel: 'telemetry', receivedAt }),
    };
  });
  await producer.send({ topic: topics.telemetry, acks: -1, messages });
}

const port = await freePort();
const cep = startApp(
  'cep',
  {
    FLEETLOG_NAMESPACE: namespace,
    HTTP_PORT: String(port),
    KAFKA_BROKERS: endpoints.kafkaBrokers,
    ELASTICSEARCH_URL: endpoints.elasticsearchUrl,
    RULES_DIR: 'rules',
    LOG_LEVEL: 'warn',
    ...(process.env.CEP_FETCH_MAX_BYTES_PER_PARTITION && {
      CEP_FETCH_MAX_BYTES_PER_PARTITION: process.env.CEP_FETCH_MAX_BYTES_PER_PARTITION,
    }),
  },
  (line) => process.stdout.write(`  cep: ${line}\n`),
);
stopAtExit(() => cep.stop());
const pids = new Map([['cep', cep.child.pid!]]);
let peakResidentMiB = 0;

/** Until every group has committed the whole log: seconds taken, cores used, and progress once a second. */
async function untilCommitted(groups: string[], what: string) {
  const startedAt = performance.now();
  const usageAtStart = sampleUsage(pids);
  const progress: Array<{ seconds: number; done: number }> = [];
  for (let done = 0; done < total * groups.length;) {
    await sleep(1000);
    done = 0;
    for (const group of groups) {
      const groupId = consumerGroupId(namespace, group);
      const [committed] = await admin.fetchOffsets({ groupId, topics: [topics.telemetry] });
      done += committed!.partitions.reduce((sum, { offset }) => sum + Math.max(0, Number(offset)), 0);
    }
    progress.push({ seconds: (performance.now() - startedAt) / 1000, done });
    peakResidentMiB = Math.max(peakResidentMiB, residentMiB(cep.child.pid!));
    process.stdout.write(
      `\r  ${what}: ${done.toLocaleString('en-US')} / ${(total * groups.length).toLocaleString('en-US')}`,
    );
  }
  process.stdout.write('\n');
  const seconds = (performance.now() - startedAt) / 1000;
  // From the first commit on: the job's start (provisioning its indices, joining its group) left out.
  const first = progress.find((sample) => sample.done > 0)!;
  const last = progress.at(-1)!;
  const steady =
    last.seconds > first.seconds
      ? (last.done - first.done) / groups.length / (last.seconds - first.seconds)
      : Number.NaN;
  return {
    seconds,
    eventsPerSecond: Math.round(total / seconds),
    steadyEventsPerSecond: Math.round(steady),
    cores: coresUsed(usageAtStart, sampleUsage(pids)),
    progress,
  };
}

await waitUntilReady(cep, `http://127.0.0.1:${port}/health`);
const ingest = await untilCommitted(['telemetry-indexer', 'cep-v1'], 'ingest (indexer and live job)');

// What a record costs at rest: the log's segment files, and the telemetry index's primary store once merged.
const kafkaDataDir = join(dirname(serviceLogFile('kafka', stackOptionsFromEnv())), 'data');
const logBytes = readdirSync(kafkaDataDir)
  .filter((name) => name.startsWith(`${topics.telemetry}-`))
  .flatMap((name) => readdirSync(join(kafkaDataDir, name)).map((file) => join(kafkaDataDir, name, file)))
  .filter((file) => file.endsWith('.log'))
  .reduce((sum, file) => sum + statSync(file).size, 0);
const telemetryIndex = datasetNames(namespace, 'v1').telemetry.index;
await elasticsearch.indices.refresh({ index: telemetryIndex });
await elasticsearch.indices.forcemerge({ index: telemetryIndex, max_num_segments: 1 });
const stats = await elasticsearch.indices.stats({ index: telemetryIndex, metric: ['store', 'docs'] });
const indexBytes = stats._all.primaries!.store!.size_in_bytes;

const replayJob = {
  version: 'v2',
  state: 'replaying',
  rules: readRuleLibrary(),
  previous: 'v1',
  changedBy: 'bench',
  changedAt: new Date().toISOString(),
};
await producer.send({
  topic: topics.jobs,
  acks: -1,
  messages: [{ key: 'v2', value: JSON.stringify(replayJob) }],
});
await producer.disconnect();
const replay = await untilCommitted(['cep-v2'], 'replay v2');
await cep.stop();

const gatewayReport = 'bench-results/gateway.json';
// The most the gateway bench saw reach Kafka per second, over its paced and unpaced steps.
const gatewayAlone = existsSync(gatewayReport)
  ? Math.round(
      Math.max(
        ...(
          JSON.parse(readFileSync(gatewayReport, 'utf8')) as {
            gateway: Array<{ deliveredPerSecond: number }>;
          }
        ).gateway.map((step) => step.deliveredPerSecond),
      ),
    )
  : undefined;
const perVehicleDayMiB = (bytes: number) => ((bytes / total) * 86_400) / 1024 ** 2;
const rate = (eventsPerSecond: number) => `${eventsPerSecond.toLocaleString('en-US')} ev/s`;
const rows = [
  ['records in the log', total.toLocaleString('en-US')],
  [
    'ingest: indexer + live job from offset 0',
    `${rate(ingest.eventsPerSecond)} in ${ingest.seconds.toFixed(1)} s`,
  ],
  ['replay: job v2 from offset 0', `${rate(replay.eventsPerSecond)} in ${replay.seconds.toFixed(1)} s`],
  ['replay once started (from its first commit)', rate(replay.steadyEventsPerSecond)],
  [
    'replay ÷ ingest',
    `${(replay.eventsPerSecond / ingest.eventsPerSecond).toFixed(1)}× (once started ${(replay.steadyEventsPerSecond / ingest.eventsPerSecond).toFixed(1)}×)`,
  ],
  [
    'cores while replaying (cep / whole machine)',
    `${replay.cores.cep!.toFixed(2)} / ${replay.cores.machine!.toFixed(2)}; peak cep RSS ${Math.round(peakResidentMiB)} MiB`,
  ],
  [
    'gateway alone (gateway bench); replay ÷ it',
    gatewayAlone
      ? `${rate(gatewayAlone)}; ${(replay.eventsPerSecond / gatewayAlone).toFixed(1)}×`
      : 'not measured yet (npm run bench)',
  ],
  [
    'log per record / per vehicle-day at 1 Hz',
    `${Math.round(logBytes / total)} B / ${perVehicleDayMiB(logBytes).toFixed(1)} MiB`,
  ],
  [
    'telemetry index per record / per vehicle-day',
    `${Math.round(indexBytes / total)} B / ${perVehicleDayMiB(indexBytes).toFixed(1)} MiB`,
  ],
];
const width = Math.max(...rows.map(([label]) => label!.length));
process.stdout.write(
  `\nReplay speed\n\n${rows.map(([label, value]) => `${label!.padEnd(width)}  ${value}`).join('\n')}\n\n`,
);

await cleanUp();

writeReport('replay', {
  ...machineDescription(loadAtStart),
  method: { vehicles, eventSeconds, records: total, rules: 'rules/ (the library)', namespace },
  ingest,
  replay,
  replayToIngest: replay.eventsPerSecond / ingest.eventsPerSecond,
  gatewayAloneEventsPerSecond: gatewayAlone ?? null,
  peakResidentMiB,
  bytesPerRecord: { log: logBytes / total, telemetryIndex: indexBytes / total },
  mebibytesPerVehicleDay: { log: perVehicleDayMiB(logBytes), telemetryIndex: perVehicleDayMiB(indexBytes) },
});

/** The bench's indices, templates and topics: gone however the bench ends. */
async function removeNamespace(): Promise<void> {
  for (const version of ['v1', 'v2']) {
    for (const names of Object.values(datasetNames(namespace, version))) {
      await elasticsearch.indices.delete({ index: names.index }, { ignore: [404] });
      await elasticsearch.indices.deleteIndexTemplate({ name: names.template }, { ignore: [404] });
    }
  }
  for (const index of Object.values(recordIndexNames(namespace))) {
    await elasticsearch.indices.delete({ index }, { ignore: [404] });
  }
  await admin.deleteTopics({ topics: Object.values(topics) }).catch(() => undefined);
}

function readRuleLibrary(): unknown[] {
  return readdirSync('rules')
    .filter((name) => name.endsWith('.json'))
    .map((name) => JSON.parse(readFileSync(join('rules', name), 'utf8')) as unknown);
}
