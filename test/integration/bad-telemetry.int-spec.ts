import { randomBytes } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import { decodeTelemetryRecord, topicNames, type TelemetryDeadLetter } from '@fleetlog/contracts';
import { AppFleet } from '../support/app-fleet';
import { readTopic, readTopicToEnd, type ReadRecord } from '../support/kafka-reader';
import { testNamespace } from '../support/test-namespace';

interface BadInput {
  name: string;
  vehicleId: string;
  payload: string;
  /** The topic's last level (telemetry by default), or a whole topic. */
  channel?: string;
  reason: TelemetryDeadLetter['reason'];
  path: string;
}

/**
 * The bad-input catalogue for telemetry, through the real broker, gateway and Kafka: every kind of bad message a
 * device can send becomes one dead letter on fleet.telemetry.dlq with its reason and JSON Pointer, while good messages
 * published between them each reach fleet.telemetry exactly once. docs/reliability.md lists the cases.
 */
describe('bad telemetry', () => {
  const namespace = testNamespace('bt');
  const fleetId = `fleet-${randomBytes(3).toString('hex')}`;
  const topics = topicNames(namespace);
  const apps = new AppFleet(namespace);
  let device: MqttClient;

  const reading = (vehicleId: string, seq: number, ts = new Date().toISOString()) => ({
    vehicleId,
    fleetId,
    ts,
    seq,
    speedKph: 60,
    rpm: 1800,
  });
  const json = (value: unknown) => JSON.stringify(value);
  const topicOf = (vehicleId: string, channel = 'telemetry') => `fleet/${fleetId}/${vehicleId}/${channel}`;
  const publish = (topic: string, payload: string) => device.publishAsync(topic, payload, { qos: 1 });
  const ours = (records: ReadRecord[]) =>
    records
      .map((record) => ({ record, letter: JSON.parse(record.value.toString()) as TelemetryDeadLetter }))
      .filter(({ letter }) => letter.mqttTopic.startsWith(`fleet/${fleetId}/`));

  beforeAll(async () => {
    await apps.launch('gateway', { MQTT_CLIENT_ID: `${namespace}-gateway` });
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

  const now = Date.now();
  const valid = (vehicleId: string) => reading(vehicleId, 1);
  const badInputs: BadInput[] = [
    {
      name: 'malformed JSON',
      vehicleId: 'bad-json',
      payload: "{'vehicleId': 'bad-json'}",
      reason: 'invalid-json',
      path: '',
    },
    {
      name: 'truncated JSON',
      vehicleId: 'bad-truncated',
      payload: json(valid('bad-truncated')).slice(0, 40),
      reason: 'invalid-json',
      path: '',
    },
    {
      name: 'NaN',
      vehicleId: 'bad-nan',
      payload: json(valid('bad-nan')).replace('"speedKph":60', '"speedKph":NaN'),
      reason: 'invalid-json',
      path: '',
    },
    {
      name: 'Infinity',
      vehicleId: 'bad-infinity',
      payload: json(valid('bad-infinity')).replace('"rpm":1800', '"rpm":Infinity'),
      reason: 'invalid-json',
      path: '',
    },
    {
      name: 'a number too large for a double (1e400 parses to Infinity)',
      vehicleId: 'bad-overflow',
      payload: json(valid('bad-overflow')).replace(/}$/, ',"odometerKm":1e400}'),
      reason: 'schema-violation',
      path: '/odometerKm',
    },
    {
      name: 'nesting bomb under ext',
      vehicleId: 'bad-bomb-ext',
      payload: json(valid('bad-bomb-ext')).replace(/}$/, `,"ext":${'['.repeat(5_000)}${']'.repeat(5_000)}}`),
      reason: 'nesting-too-deep',
      path: '',
    },
    {
      name: 'nesting bomb in a field the schema does not know',
      vehicleId: 'bad-bomb-unknown',
      payload: json(valid('bad-bomb-unknown')).replace(
        /}$/,
        `,"junk":${'{"a":'.repeat(100)}1${'}'.repeat(100)}}`,
      ),
      reason: 'nesting-too-deep',
      path: '',
    },
    {
      name: 'nesting bomb in a known field',
      vehicleId: 'bad-bomb-known',
      payload: json(valid('bad-bomb-known')).replace(
        /}$/,
        `,"position":${'['.repeat(20_000)}${']'.repeat(20_000)}}`,
      ),
      reason: 'schema-violation',
      path: '/position',
    },
    {
      name: 'oversize payload (over 64 KiB)',
      vehicleId: 'bad-oversize',
      payload: json({ ...valid('bad-oversize'), ext: { blob: 'x'.repeat(70_000) } }),
      reason: 'oversize',
      path: '',
    },
    {
      // Mosquitto's message_size_limit refuses this in production (docker/); the gateway must not rely on it.
      name: 'a 2 MiB payload, larger than a Kafka record may be',
      vehicleId: 'bad-huge',
      payload: json({ ...valid('bad-huge'), ext: { blob: 'x'.repeat(2 * 1024 * 1024) } }),
      reason: 'oversize',
      path: '',
    },
    {
      name: 'speed as text',
      vehicleId: 'bad-type-speed',
      payload: json({ ...valid('bad-type-speed'), speedKph: '88' }),
      reason: 'schema-violation',
      path: '/speedKph',
    },
    {
      name: 'latitude as text',
      vehicleId: 'bad-type-lat',
      payload: json({ ...valid('bad-type-lat'), position: { lat: '48.1', lon: 11.5 } }),
      reason: 'schema-violation',
      path: '/position/lat',
    },
    {
      name: 'trouble codes not a list',
      vehicleId: 'bad-type-dtcs',
      payload: json({ ...valid('bad-type-dtcs'), dtcs: 'P0301' }),
      reason: 'schema-violation',
      path: '/dtcs',
    },
    {
      name: 'a JSON array instead of an object',
      vehicleId: 'bad-array',
      payload: json([valid('bad-array')]),
      reason: 'schema-violation',
      path: '',
    },
    {
      name: 'event time a day in the future',
      vehicleId: 'bad-future',
      payload: json(reading('bad-future', 1, new Date(now + 86_400_000).toISOString())),
      reason: 'timestamp-out-of-range',
      path: '/ts',
    },
    {
      name: 'event time in the year 2000',
      vehicleId: 'bad-past',
      payload: json(reading('bad-past', 1, '2000-01-01T00:00:00Z')),
      reason: 'timestamp-out-of-range',
      path: '/ts',
    },
    {
      name: 'event time on a day the month does not have',
      vehicleId: 'bad-calendar',
      payload: json(reading('bad-calendar', 1, `${new Date(now).toISOString().slice(0, 5)}02-30T12:00:00Z`)),
      reason: 'schema-violation',
      path: '/ts',
    },
    {
      name: 'unicode letters in the vehicle id of the topic',
      vehicleId: 'lkw-müller',
      payload: json(valid('lkw-müller')),
      reason: 'unknown-topic',
      path: '',
    },
    {
      name: 'a control character in the payload vehicle id',
      vehicleId: 'bad-control',
      payload: json({ ...valid('bad-control'), vehicleId: 'bad-control\u0007' }),
      reason: 'schema-violation',
      path: '/vehicleId',
    },
    {
      name: 'a right-to-left override in the payload fleet id',
      vehicleId: 'bad-bidi',
      payload: json({ ...valid('bad-bidi'), fleetId: `${fleetId}\u202e` }),
      reason: 'schema-violation',
      path: '/fleetId',
    },
    {
      name: 'a payload naming another vehicle than its topic (spoofed)',
      vehicleId: 'bad-spoof-vehicle',
      payload: json(valid('someone-else')),
      reason: 'identity-mismatch',
      path: '/vehicleId',
    },
    {
      name: 'a payload naming another fleet than its topic (spoofed)',
      vehicleId: 'bad-spoof-fleet',
      payload: json({ ...valid('bad-spoof-fleet'), fleetId: 'other-fleet' }),
      reason: 'identity-mismatch',
      path: '/fleetId',
    },
    {
      name: 'a channel outside telemetry, dtc and status',
      vehicleId: 'bad-channel',
      channel: 'config',
      payload: json(valid('bad-channel')),
      reason: 'unknown-topic',
      path: '',
    },
  ];

  it(`dead-letters each of ${badInputs.length} kinds of bad telemetry with its reason and path, while every good message between them reaches the log exactly once`, async () => {
    const good: string[] = [];
    const publishGood = async (vehicleId: string) => {
      good.push(vehicleId);
      await publish(topicOf(vehicleId), json(valid(vehicleId)));
    };
    for (const [index, bad] of badInputs.entries()) {
      await publish(topicOf(bad.vehicleId, bad.channel), bad.payload);
      await publishGood(`good-${index}`);
    }

    const letters = ours(
      await readTopic(topics.telemetryDeadLetters, (read) => ours(read).length >= badInputs.length, 30_000),
    );
    const outcomes = badInputs.map((bad) => {
      // An oversize payload's dead letter keeps its first GATEWAY_MAX_PAYLOAD_BYTES (64 KiB by default).
      const kept = Buffer.from(bad.payload).subarray(0, 64 * 1024);
      const found = letters.filter(({ letter }) => Buffer.from(letter.payloadBase64, 'base64').equals(kept));
      return {
        name: bad.name,
        deadLetters: found.length,
        reason: found[0]?.letter.reason,
        path: found[0]?.letter.path,
        topic: found[0]?.letter.mqttTopic,
        key: found[0]?.record.key,
      };
    });
    expect(outcomes).toEqual(
      badInputs.map((bad) => ({
        name: bad.name,
        deadLetters: 1,
        reason: bad.reason,
        path: bad.path,
        topic: topicOf(bad.vehicleId, bad.channel),
        key: topicOf(bad.vehicleId, bad.channel),
      })),
    );
    expect(letters.every(({ letter }) => letter.detail.length > 0)).toBe(true);

    await readTopic(
      topics.telemetry,
      (read) => good.every((vehicleId) => read.some((record) => record.key === vehicleId)),
      30_000,
    );
    const logged = (await readTopicToEnd(topics.telemetry, 30_000))
      .map((record) => decodeTelemetryRecord(record.value)!)
      .filter((record) => record.fleetId === fleetId);
    expect(logged.map((record) => record.vehicleId).sort()).toEqual([...good].sort());
  });

  it('keeps both copies of a message a device sent twice (same seq and event time) in the log, byte for byte', async () => {
    const message = json(reading('resender', 7));
    await publish(topicOf('resender'), message);
    await publish(topicOf('resender'), message);

    await readTopic(topics.telemetry, (read) => read.filter((r) => r.key === 'resender').length >= 2, 30_000);
    const copies = (await readTopicToEnd(topics.telemetry, 30_000)).filter(
      (record) => record.key === 'resender',
    );
    expect(copies).toHaveLength(2);
    const [first, second] = copies.map((record) => decodeTelemetryRecord(record.value)!);
    expect({ ...first, receivedAt: undefined }).toEqual({ ...second, receivedAt: undefined });
    expect(first).toMatchObject({ fleetId, vehicleId: 'resender', seq: 7 });
  });

  it('never sees a message on a topic outside fleet/+/+/{telemetry,dtc,status}: no record, no dead letter', async () => {
    const marker = `outside-${randomBytes(3).toString('hex')}`;
    const outside = [
      `fleet/${fleetId}/${marker}/telemetry/extra`,
      `fleet/${fleetId}/${marker}`,
      `${marker}/telemetry`,
    ];
    for (const topic of outside) await publish(topic, json({ ...valid(marker), note: topic }));
    // Published after them on the same connection: once it is in the log, the broker has handled those too.
    await publish(topicOf('after-outside'), json(valid('after-outside')));

    await readTopic(
      topics.telemetry,
      (read) => read.some((record) => record.key === 'after-outside'),
      30_000,
    );
    const [records, letters] = await Promise.all([
      readTopicToEnd(topics.telemetry, 30_000),
      readTopicToEnd(topics.telemetryDeadLetters, 30_000),
    ]);
    const mentions = (record: ReadRecord) => record.value.toString().includes(marker);
    const deadLetterMentions = (record: ReadRecord) =>
      Buffer.from((JSON.parse(record.value.toString()) as TelemetryDeadLetter).payloadBase64, 'base64')
        .toString()
        .includes(marker);
    expect(records.filter(mentions)).toEqual([]);
    expect(letters.filter(deadLetterMentions)).toEqual([]);
  });

  it('loses the connection of a client publishing on a topic with a control character: the broker refuses it', async () => {
    const marker = `ctl-${randomBytes(3).toString('hex')}`;
    const rogue = await mqtt.connectAsync(process.env.MQTT_URL!, {
      protocolVersion: 5,
      clientId: `${namespace}-rogue`,
      reconnectPeriod: 0,
    });
    const closed = new Promise<void>((resolve) => rogue.once('close', () => resolve()));
    void rogue
      .publishAsync(topicOf(`${marker}\u0007`), json(valid(marker)), { qos: 1 })
      .catch(() => undefined);
    await closed;
    rogue.end(true);

    await publish(topicOf('after-control'), json(valid('after-control')));
    await readTopic(
      topics.telemetry,
      (read) => read.some((record) => record.key === 'after-control'),
      30_000,
    );
    const letters = await readTopicToEnd(topics.telemetryDeadLetters, 30_000);
    expect(letters.filter((record) => record.value.toString().includes(marker))).toEqual([]);
  });
});
