import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { encodeTelemetryRecord, topicNames, type TelemetryRecord } from '@fleetlog/contracts';
import { ensureTopics } from '@fleetlog/kafka';
import { testNamespace } from '../support/test-namespace';

const run = promisify(execFile);

/** `fleetlog telemetry` as an operator runs it, with `env` on top of ours; resolves whatever its exit code. */
function telemetry(env: NodeJS.ProcessEnv, ...args: string[]) {
  return run(process.execPath, ['tools/cli/fleetlog.ts', 'telemetry', ...args], {
    env: { ...process.env, ...env },
    timeout: 60_000,
  }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => error,
  );
}

const reading = (vehicleId: string, seq: number): TelemetryRecord => ({
  vehicleId,
  fleetId: 'acme',
  ts: `2026-12-04T12:00:0${seq}.000Z`,
  seq,
  speedKph: 80 + seq,
  position: { lat: 52.5, lon: 13.4 },
  channel: 'telemetry',
  receivedAt: `2026-12-04T12:00:0${seq}.100Z`,
});

describe('fleetlog telemetry', () => {
  it('prints the records of the log as JSON lines, binary and JSON ones alike, and unreadable ones as such', async () => {
    const namespace = testNamespace('telemetry-cli');
    const topic = topicNames(namespace).telemetry;
    const kafka = new Kafka({ brokers: process.env.KAFKA_BROKERS!.split(','), logLevel: logLevel.NOTHING });
    await ensureTopics(kafka, topicNames(namespace));
    const producer = kafka.producer();
    await producer.connect();
    try {
      // One partition, so that the order below is the log's.
      await producer.send({
        topic,
        messages: [
          { key: 'truck-1', value: encodeTelemetryRecord(reading('truck-1', 1)), partition: 0 },
          { key: 'truck-2', value: encodeTelemetryRecord(reading('truck-2', 1)), partition: 0 },
          { key: 'truck-1', value: JSON.stringify(reading('truck-1', 2)), partition: 0 },
          { key: 'truck-1', value: Buffer.from([2, 0, 0]), partition: 0 },
          { key: 'truck-1', value: encodeTelemetryRecord(reading('truck-1', 3)), partition: 0 },
        ],
      });
    } finally {
      await producer.disconnect();
    }

    const printed = await telemetry(
      { FLEETLOG_NAMESPACE: namespace },
      '--vehicle',
      'truck-1',
      '--from-beginning',
      '--limit',
      '3',
    );
    expect(printed.code).toBe(0);
    expect(
      printed.stdout
        .trimEnd()
        .split('\n')
        .map((line) => JSON.parse(line) as unknown),
    ).toEqual([
      { partition: 0, offset: '0', record: reading('truck-1', 1) },
      { partition: 0, offset: '2', record: reading('truck-1', 2) },
      { partition: 0, offset: '3', unreadable: Buffer.from([2, 0, 0]).toString('base64') },
    ]);
  });

  it('refuses a limit that is not a whole number of records, and a bad setting naming it', async () => {
    const zero = await telemetry({}, '--limit', '0');
    expect(zero.code).toBe(2);
    expect(zero.stderr).toContain('--limit must be a whole number of records');
    const badBrokers = await telemetry({ KAFKA_BROKERS: 'no-port' }, '--limit', '1');
    expect(badBrokers.code).toBe(2);
    expect(badBrokers.stderr).toContain('KAFKA_BROKERS: must be a comma-separated list of host:port');
  });
});
