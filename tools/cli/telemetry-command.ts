import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { UsageError } from './api-client.ts';
import type { Command } from './command.ts';

const dist = fileURLToPath(new URL('../../dist/libs/', import.meta.url));

/**
 * `fleetlog telemetry`: fleet.telemetry as JSON lines, one per record, whichever format the record is in (the log is
 * binary since format 1). For looking at what vehicles sent; it commits nothing, so it changes no consumer's place.
 */
export const telemetryCommand: Command = {
  usage: 'fleetlog telemetry [--fleet ID] [--vehicle ID] [--from-beginning] [--limit N]',
  summary:
    'prints fleet.telemetry records as JSON lines ({partition, offset, record}, or {partition, offset, ' +
    'unreadable: base64}, shown whatever the filters), new ones until Ctrl-C or --limit of them; uses ' +
    'KAFKA_BROKERS and FLEETLOG_NAMESPACE (needs npm run build)',
  async run(args) {
    const options = parsedOptions(args);
    if (!existsSync(dist))
      throw new UsageError(`${dist} not found: run npm run build first (from the repository root)`);
    // From the build, so that fleetlog's other commands run without one.
    const { decodeTelemetryRecord, topicNames }: typeof import('../../dist/libs/contracts/src/index.js') =
      await import(`${dist}contracts/src/index.js`);
    const { createKafka }: typeof import('../../dist/libs/kafka/src/index.js') = await import(
      `${dist}kafka/src/index.js`
    );
    const { createLogger }: typeof import('../../dist/libs/observability/src/index.js') = await import(
      `${dist}observability/src/index.js`
    );
    const { loadConfig, logReaderEnvSchema }: typeof import('../../dist/libs/config/src/index.js') =
      await import(`${dist}config/src/index.js`);
    let config: ReturnType<typeof loadConfig<typeof logReaderEnvSchema>>;
    try {
      config = loadConfig(logReaderEnvSchema);
    } catch (error) {
      // ConfigError: every bad variable named, one per line.
      throw new UsageError((error as Error).message);
    }
    const topic = topicNames(config.FLEETLOG_NAMESPACE).telemetry;
    // Through the project's Kafka client (its retries, its logs), logging to stderr: stdout is the records'.
    const kafka = createKafka(
      config.KAFKA_BROKERS,
      'fleetlog-cli',
      createLogger('fleetlog-cli', 'error', 'stderr'),
    );
    const groupId = `${config.FLEETLOG_NAMESPACE || 'fleetlog'}.cli-telemetry-${randomBytes(4).toString('hex')}`;
    const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 200 });
    let printed = 0;
    let finish: () => void = () => undefined;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    process.once('SIGINT', finish);
    process.once('SIGTERM', finish);
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: options.fromBeginning });
      await consumer.run({
        autoCommit: false,
        eachMessage: async ({ partition, message }) => {
          if (printed >= options.limit || !message.value) return;
          const record = decodeTelemetryRecord(message.value);
          const position = { partition, offset: message.offset };
          if (record === undefined) {
            printLine({ ...position, unreadable: message.value.toString('base64') });
          } else if (
            (options.fleet === undefined || record.fleetId === options.fleet) &&
            (options.vehicle === undefined || record.vehicleId === options.vehicle)
          ) {
            printLine({ ...position, record });
          } else {
            return;
          }
          if (++printed >= options.limit) finish();
        },
      });
      await finished;
    } finally {
      process.off('SIGINT', finish);
      process.off('SIGTERM', finish);
      await consumer.disconnect();
      // It committed nothing; its group would only clutter the broker's list.
      const admin = kafka.admin();
      await admin.connect();
      await admin.deleteGroups([groupId]).catch(() => undefined);
      await admin.disconnect();
    }
    return 0;
  },
};

interface TelemetryOptions {
  fleet?: string;
  vehicle?: string;
  fromBeginning: boolean;
  limit: number;
}

function parsedOptions(args: string[]): TelemetryOptions {
  let values: { fleet?: string; vehicle?: string; 'from-beginning'?: boolean; limit?: string };
  try {
    ({ values } = parseArgs({
      args,
      options: {
        fleet: { type: 'string' },
        vehicle: { type: 'string' },
        'from-beginning': { type: 'boolean' },
        limit: { type: 'string' },
      },
      strict: true,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const limit = values.limit === undefined ? Infinity : Number(values.limit);
  if (!(Number.isInteger(limit) || limit === Infinity) || limit < 1)
    throw new UsageError(`--limit must be a whole number of records, at least 1; got ${values.limit}`);
  return {
    fleet: values.fleet,
    vehicle: values.vehicle,
    fromBeginning: values['from-beginning'] ?? false,
    limit,
  };
}

function printLine(line: object): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}
