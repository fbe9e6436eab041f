// Command line for the local stack: npm run stack -- up | down | status | fetch | logs [service] [--follow]
// Progress goes to stderr so that stdout of `up` is only the KEY=value endpoint lines.
import { open, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  readLogTail,
  SERVICE_NAMES,
  serviceLogFile,
  stackDown,
  StackError,
  stackFetch,
  stackOptionsFromEnv,
  stackStatus,
  stackUp,
} from './local-stack.ts';
import type { ServiceName, ServiceStatus, StackOptions } from './local-stack.ts';

const USAGE = `Usage: npm run stack -- <command>
  up                          start Kafka, Elasticsearch and Mosquitto on 127.0.0.1 (reuses running ones)
  down                        stop them
  fetch                       download the servers (and install Mosquitto) without starting them
  status                      show what runs and whether it answers
  logs [service] [--follow]   print the end of the logs; service is kafka, elasticsearch or mosquitto`;

const LOG_TAIL_LINES = 100;

const FOLLOW_INTERVAL_MS = 500;

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  const options: StackOptions = {
    ...stackOptionsFromEnv(),
    log: (line) => process.stderr.write(`${line}\n`),
  };
  switch (command) {
    case 'up':
      return up(options);
    case 'down':
      return stackDown(options);
    case 'fetch':
      return stackFetch(options);
    case 'status':
      return status(options);
    case 'logs':
      return logs(options, rest);
    case 'help':
    case '--help':
      process.stdout.write(`${USAGE}\n`);
      return;
    default:
      throw new StackError(command === undefined ? USAGE : `Unknown command "${command}".\n${USAGE}`);
  }
}

async function up(options: StackOptions): Promise<void> {
  const endpoints = await stackUp(options);
  process.stdout.write(
    `KAFKA_BROKERS=${endpoints.kafkaBrokers}\nELASTICSEARCH_URL=${endpoints.elasticsearchUrl}\nMQTT_URL=${endpoints.mqttUrl}\n`,
  );
}

async function status(options: StackOptions): Promise<void> {
  const rows = (await stackStatus(options)).map((entry) => [
    entry.service,
    describeState(entry),
    entry.pid === undefined ? '-' : String(entry.pid),
    entry.endpoint,
    entry.logFile,
  ]);
  printTable([['SERVICE', 'STATE', 'PID', 'ENDPOINT', 'LOG'], ...rows]);
}

function describeState(entry: ServiceStatus): string {
  if (!entry.running) return 'stopped';
  return entry.ready ? 'ready' : 'running, not answering';
}

function printTable(rows: string[][]): void {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  for (const row of rows) {
    process.stdout.write(
      `${row
        .map((cell, column) => cell.padEnd(widths[column]!))
        .join('  ')
        .trimEnd()}\n`,
    );
  }
}

async function logs(options: StackOptions, args: string[]): Promise<void> {
  const followRequested = args.includes('--follow') || args.includes('-f');
  const named = args.filter((arg) => !arg.startsWith('-'));
  const unknown = named.filter((name) => !SERVICE_NAMES.includes(name as ServiceName));
  if (unknown.length > 0)
    throw new StackError(`Unknown service "${unknown[0]}"; pick one of ${SERVICE_NAMES.join(', ')}.`);
  const services = named.length > 0 ? (named as ServiceName[]) : SERVICE_NAMES;
  const files = services.map((service) => serviceLogFile(service, options));
  for (const file of files) {
    process.stdout.write(`==> ${file} <==\n${await tailOrNotice(file)}\n`);
  }
  if (followRequested) await follow(files);
}

async function tailOrNotice(file: string): Promise<string> {
  try {
    return await readLogTail(file, LOG_TAIL_LINES);
  } catch {
    return '(no log yet: the service has never been started from this run directory)';
  }
}

/** Polls instead of fs.watch, which misses appends made by other processes on some filesystems. */
async function follow(files: string[]): Promise<never> {
  // Ctrl-C is how a follow normally ends, not a failure.
  process.once('SIGINT', () => process.exit(0));
  const offsets = new Map<string, number>();
  for (const file of files) offsets.set(file, await sizeOf(file));
  let lastPrinted = files.length === 1 ? files[0] : undefined;
  for (;;) {
    for (const file of files) {
      const size = await sizeOf(file);
      // A smaller file was truncated or replaced: start over from its beginning.
      const from = size < offsets.get(file)! ? 0 : offsets.get(file)!;
      if (size === from) continue;
      if (file !== lastPrinted) process.stdout.write(`\n==> ${file} <==\n`);
      process.stdout.write(await readRange(file, from, size));
      offsets.set(file, size);
      lastPrinted = file;
    }
    await sleep(FOLLOW_INTERVAL_MS);
  }
}

async function sizeOf(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch {
    return 0;
  }
}

async function readRange(file: string, from: number, to: number): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(to - from);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, from);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

try {
  await main(process.argv.slice(2));
} catch (error) {
  // A StackError is a message for the developer; anything else is a bug and keeps its stack trace.
  if (error instanceof StackError) {
    process.stderr.write(`error: ${error.message}\n`);
  } else {
    console.error(error);
  }
  process.exitCode = 1;
}
