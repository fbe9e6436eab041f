import { randomBytes } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import {
  decodeTelemetryRecord,
  topicNames,
  type GatewayProgress,
  type TelemetryDeadLetter,
} from '@fleetlog/contracts';
import { AppFleet } from '../support/app-fleet';
import { readTopic, type ReadRecord } from '../support/kafka-reader';
import { localStackPid, restartMissingStackServers } from '../support/local-stack-control';
import { testNamespace } from '../support/test-namespace';

/**
 * The gateway against real Mosquitto and Kafka: what devices published at QoS 1 is exactly what reaches the log,
 * through a crash of the gateway too, and every bad message becomes a dead letter with its reason.
 */
describe('gateway', () => {
  const namespace = testNamespace('gw');
  const fleetId = `fleet-${randomBytes(3).toString('hex')}`;
  const topics = topicNames(namespace);
  const apps = new AppFleet(namespace);
  // Two gateways run at once below: a share group splits the messages between them, as when scaled out.
  const gatewayEnv = { MQTT_CLIENT_ID: `${namespace}-gateway`, MQTT_SHARE_GROUP: 'gateways' };
  let device: MqttClient;

  const reading = (vehicleId: string, seq: number) => ({
    vehicleId,
    fleetId,
    ts: new Date().toISOString(),
    seq,
    speedKph: 50 + (seq % 70),
    rpm: 1500,
  });
  const publish = (vehicleId: string, payload: string | Buffer, channel = 'telemetry') =>
    device.publishAsync(`fleet/${fleetId}/${vehicleId}/${channel}`, payload, { qos: 1 });
  const identityOf = (record: ReadRecord) => {
    const telemetry = decodeTelemetryRecord(record.value)!;
    return `${telemetry.vehicleId}#${telemetry.seq}`;
  };

  beforeAll(async () => {
    await apps.launch('gateway', gatewayEnv);
    device = await mqtt.connectAsync(process.env.MQTT_URL!, {
      protocolVersion: 5,
      clientId: `${namespace}-device`,
    });
  });

  afterAll(async () => {
    await device?.endAsync();
    const exitCodes = await apps.stopAll();
    if (exitCodes.some((code) => code !== 0)) process.stdout.write(apps.recentOutput(100));
    expect(exitCodes.every((code) => code === 0)).toBe(true);
  });

  it('appends every message published at QoS 1 to the log exactly once, keyed by vehicle', async () => {
    const vehicles = Array.from({ length: 10 }, (_, index) => `run1-${index}`);
    const sent = vehicles.flatMap((vehicleId) =>
      Array.from({ length: 300 }, (_, seq) => ({ vehicleId, seq })),
    );
    await Promise.all(
      sent.map(({ vehicleId, seq }) => publish(vehicleId, JSON.stringify(reading(vehicleId, seq)))),
    );

    const records = (
      await readTopic(topics.telemetry, (read) => read.length >= sent.length + 1, 20_000)
    ).filter((record) => record.key?.startsWith('run1-'));
    expect(records).toHaveLength(sent.length);
    expect(new Set(records.map(identityOf))).toEqual(
      new Set(sent.map(({ vehicleId, seq }) => `${vehicleId}#${seq}`)),
    );
    expect(records.every((record) => identityOf(record).startsWith(`${record.key}#`))).toBe(true);
    // One vehicle, one partition: that is what keeps its readings in order for the consumers.
    const partitionsByVehicle = new Map(records.map((record) => [record.key, new Set<number>()]));
    for (const record of records) partitionsByVehicle.get(record.key)!.add(record.partition);
    expect([...partitionsByVehicle.values()].every((partitions) => partitions.size === 1)).toBe(true);
  });

  it('reports every second, on fleet.gateway.progress under its client id, how far its messages are in the log', async () => {
    const since = Date.now();
    const records = await readTopic(
      topics.gatewayProgress,
      (read) =>
        read.some((record) => Date.parse(JSON.parse(record.value.toString()).receivedThrough) > since),
      10_000,
    );
    const newest = records.filter((record) => record.key === gatewayEnv.MQTT_CLIENT_ID).at(-1);
    expect(
      Date.parse((JSON.parse(newest!.value.toString()) as GatewayProgress).receivedThrough),
    ).toBeGreaterThan(since);
  });

  it('loses nothing when the gateway is killed with SIGKILL mid-stream and restarted', async () => {
    const total = 6_000;
    const vehicles = Array.from({ length: 20 }, (_, index) => `run2-${index}`);
    const publishes: Array<Promise<unknown>> = [];
    let gateway = await apps.launch('gateway', { ...gatewayEnv, MQTT_CLIENT_ID: `${namespace}-gateway-2` });
    for (let seq = 0; seq < total / vehicles.length; seq++) {
      for (const vehicleId of vehicles)
        publishes.push(publish(vehicleId, JSON.stringify(reading(vehicleId, seq))));
      if (seq % 10 === 9) await new Promise((resolve) => setTimeout(resolve, 25));
      if (seq === 100) {
        gateway.child.kill('SIGKILL');
        await gateway.exited;
        gateway = await apps.launch('gateway', { ...gatewayEnv, MQTT_CLIENT_ID: `${namespace}-gateway-2` });
      }
    }
    await Promise.all(publishes);

    const wanted = (record: ReadRecord) => record.key?.startsWith('run2-') ?? false;
    const records = (
      await readTopic(
        topics.telemetry,
        (read) => new Set(read.filter(wanted).map(identityOf)).size >= total,
        60_000,
      )
    ).filter(wanted);
    const distinct = new Set(records.map(identityOf));
    expect(distinct.size).toBe(total);
    // At-least-once: what the killed gateway had handed to Kafka but not yet acknowledged comes again, no more.
    expect(records.length - total).toBeLessThan(3_000);
  });

  it('holds back acknowledgements while Kafka is down and delivers everything once it is back', async () => {
    const total = 3_000;
    const vehicles = Array.from({ length: 10 }, (_, index) => `run4-${index}`);
    const publishes: Array<Promise<unknown>> = [];
    for (let seq = 0; seq < total / vehicles.length; seq++) {
      for (const vehicleId of vehicles)
        publishes.push(publish(vehicleId, JSON.stringify(reading(vehicleId, seq))));
      if (seq % 10 === 9) await new Promise((resolve) => setTimeout(resolve, 25));
      if (seq === 50) process.kill(await localStackPid('kafka'), 'SIGKILL');
    }
    // The broker has accepted every message from the device; the gateway cannot hand them on yet.
    await Promise.all(publishes);
    await restartMissingStackServers();

    const wanted = (record: ReadRecord) => record.key?.startsWith('run4-') ?? false;
    const records = (
      await readTopic(
        topics.telemetry,
        (read) => new Set(read.filter(wanted).map(identityOf)).size >= total,
        90_000,
      )
    ).filter(wanted);
    expect(new Set(records.map(identityOf)).size).toBe(total);
  });

  const future = new Date(Date.now() + 86_400_000).toISOString();
  const past = new Date(Date.now() - 30 * 86_400_000).toISOString();
  const valid = (vehicleId: string) => reading(vehicleId, 0);
  const json = (value: unknown) => JSON.stringify(value);
  /** Each entry: what a misbehaving device sends, and the reason the dead letter must give. */
  const badInputs: Array<{
    name: string;
    vehicleId: string;
    payload: string | Buffer;
    channel?: string;
    reason: string;
  }> = [
    { name: 'empty payload', vehicleId: 'bad-01', payload: '', reason: 'invalid-json' },
    {
      name: 'truncated JSON',
      vehicleId: 'bad-02',
      payload: '{"vehicleId":"bad-02","fleetId"',
      reason: 'invalid-json',
    },
    {
      name: 'malformed JSON',
      vehicleId: 'bad-03',
      payload: "{'vehicleId': 'bad-03'}",
      reason: 'invalid-json',
    },
    { name: 'binary bytes', vehicleId: 'bad-04', payload: randomBytes(64), reason: 'invalid-json' },
    {
      name: 'NaN literal',
      vehicleId: 'bad-05',
      payload: '{"vehicleId":"bad-05","speedKph":NaN}',
      reason: 'invalid-json',
    },
    { name: 'Infinity literal', vehicleId: 'bad-06', payload: '{"rpm":Infinity}', reason: 'invalid-json' },
    {
      name: 'a JSON array',
      vehicleId: 'bad-07',
      payload: json([valid('bad-07')]),
      reason: 'schema-violation',
    },
    { name: 'a JSON string', vehicleId: 'bad-08', payload: '"hello"', reason: 'schema-violation' },
    { name: 'JSON null', vehicleId: 'bad-09', payload: 'null', reason: 'schema-violation' },
    {
      name: 'missing event time',
      vehicleId: 'bad-10',
      payload: json({ vehicleId: 'bad-10', fleetId }),
      reason: 'schema-violation',
    },
    {
      name: 'speed as text',
      vehicleId: 'bad-11',
      payload: json({ ...valid('bad-11'), speedKph: '88' }),
      reason: 'schema-violation',
    },
    {
      name: 'number too large for JSON (1e400)',
      vehicleId: 'bad-12',
      payload: `{"vehicleId":"bad-12","fleetId":"${fleetId}","ts":"${new Date().toISOString()}","rpm":1e400}`,
      reason: 'schema-violation',
    },
    {
      name: 'negative speed',
      vehicleId: 'bad-13',
      payload: json({ ...valid('bad-13'), speedKph: -5 }),
      reason: 'schema-violation',
    },
    {
      name: 'latitude out of range',
      vehicleId: 'bad-14',
      payload: json({ ...valid('bad-14'), position: { lat: 91, lon: 0 } }),
      reason: 'schema-violation',
    },
    {
      name: 'malformed DTC',
      vehicleId: 'bad-15',
      payload: json({ ...valid('bad-15'), dtcs: ['X0301'] }),
      reason: 'schema-violation',
    },
    {
      name: 'DTCs not a list',
      vehicleId: 'bad-16',
      payload: json({ ...valid('bad-16'), dtcs: 'P0301' }),
      reason: 'schema-violation',
    },
    {
      name: 'event time not ISO 8601',
      vehicleId: 'bad-17',
      payload: json({ ...valid('bad-17'), ts: '23/11/2026 12:00' }),
      reason: 'schema-violation',
    },
    {
      name: 'event time a day ahead',
      vehicleId: 'bad-18',
      payload: json({ ...valid('bad-18'), ts: future }),
      reason: 'timestamp-out-of-range',
    },
    {
      name: 'event time a month old',
      vehicleId: 'bad-19',
      payload: json({ ...valid('bad-19'), ts: past }),
      reason: 'timestamp-out-of-range',
    },
    {
      name: 'payload naming another vehicle',
      vehicleId: 'bad-20',
      payload: json(valid('someone-else')),
      reason: 'identity-mismatch',
    },
    {
      name: 'payload naming another fleet',
      vehicleId: 'bad-21',
      payload: json({ ...valid('bad-21'), fleetId: 'other-fleet' }),
      reason: 'identity-mismatch',
    },
    {
      name: 'payload over 64 KiB',
      vehicleId: 'bad-22',
      payload: json({ ...valid('bad-22'), ext: { blob: 'x'.repeat(70_000) } }),
      reason: 'oversize',
    },
    {
      name: 'nesting bomb',
      vehicleId: 'bad-23',
      payload: `{"ext":${'['.repeat(5_000)}${']'.repeat(5_000)}}`,
      reason: 'nesting-too-deep',
    },
    {
      name: 'unknown channel',
      vehicleId: 'bad-24',
      channel: 'config',
      payload: json(valid('bad-24')),
      reason: 'unknown-topic',
    },
    {
      // Control characters in a topic never reach the gateway: Mosquitto disconnects the publisher (malformed UTF-8).
      name: 'vehicle id longer than 64 characters',
      vehicleId: `v${'x'.repeat(64)}`,
      payload: json(valid(`v${'x'.repeat(64)}`)),
      reason: 'unknown-topic',
    },
    {
      name: 'non-ASCII vehicle id',
      vehicleId: 'bäd-26',
      payload: json(valid('bäd-26')),
      reason: 'unknown-topic',
    },
    {
      name: 'duplicate key turning a number into text',
      vehicleId: 'bad-27',
      payload: json(valid('bad-27')).replace(/}$/, ',"rpm":"fast"}'),
      reason: 'schema-violation',
    },
    {
      name: 'unknown connection state',
      vehicleId: 'bad-28',
      channel: 'status',
      payload: json({ ...valid('bad-28'), connection: 'maybe' }),
      reason: 'schema-violation',
    },
    {
      name: 'raw OBD-II response with too few bytes for its PID',
      vehicleId: 'bad-29',
      payload: json({ ...valid('bad-29'), obd: { mode01: { '0C': '1A' } } }),
      reason: 'obd-undecodable',
    },
  ];

  it(`sends each of ${badInputs.length} kinds of bad input to the dead-letter topic with its reason, while good traffic flows on`, async () => {
    const goodVehicles: string[] = [];
    for (const [index, bad] of badInputs.entries()) {
      await publish(bad.vehicleId, bad.payload, bad.channel);
      const goodVehicle = `run3-good-${index}`;
      goodVehicles.push(goodVehicle);
      await publish(goodVehicle, json(valid(goodVehicle)));
    }

    const deadLetters = (
      await readTopic(topics.telemetryDeadLetters, (read) => read.length >= badInputs.length, 30_000)
    ).map((record) => JSON.parse(record.value.toString()) as TelemetryDeadLetter);
    const reasons = badInputs.map((bad) => {
      const original = Buffer.isBuffer(bad.payload) ? bad.payload : Buffer.from(bad.payload);
      // An oversize payload's dead letter keeps only its beginning (a dead letter must fit in a Kafka record).
      const letter = deadLetters.find((candidate) => {
        const kept = Buffer.from(candidate.payloadBase64, 'base64');
        return candidate.reason === 'oversize' && kept.length > 0 && kept.length < original.length
          ? original.subarray(0, kept.length).equals(kept)
          : kept.equals(original);
      });
      return { name: bad.name, reason: letter?.reason, topic: letter?.mqttTopic };
    });
    expect(reasons).toEqual(
      badInputs.map((bad) => ({
        name: bad.name,
        reason: bad.reason,
        topic: `fleet/${fleetId}/${bad.vehicleId}/${bad.channel ?? 'telemetry'}`,
      })),
    );
    expect(deadLetters.every((letter) => letter.detail.length > 0)).toBe(true);

    const goodRecords = (
      await readTopic(
        topics.telemetry,
        (read) => goodVehicles.every((vehicleId) => read.some((record) => record.key === vehicleId)),
        20_000,
      )
    ).filter((record) => record.key?.startsWith('run3-good-'));
    expect(goodRecords.map((record) => record.key).sort()).toEqual([...goodVehicles].sort());
  });
});
