import fc from 'fast-check';
import { decodeTelemetryRecord } from '@fleetlog/contracts';
import { TelemetryIngest, type IngestOutcome } from './telemetry-ingest';

const receivedAt = new Date('2026-11-23T12:00:00.000Z');
const topic = 'fleet/acme/truck-1/telemetry';
const ingest = new TelemetryIngest({
  maxNestingDepth: 32,
  maxPayloadBytes: 1024,
  maxFutureSkewMs: 60_000,
  maxAgeMs: 86_400_000,
});
const good = {
  vehicleId: 'truck-1',
  fleetId: 'acme',
  ts: '2026-11-23T11:59:59.000Z',
  speedKph: 88,
  rpm: 2100,
};

function run(payload: unknown, onTopic = topic): IngestOutcome {
  const bytes = Buffer.isBuffer(payload)
    ? payload
    : Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload));
  return ingest.ingest(onTopic, bytes, receivedAt);
}

function rejection(outcome: IngestOutcome) {
  if (outcome.accepted) throw new Error('expected a rejection');
  return outcome.deadLetter;
}

describe('TelemetryIngest', () => {
  it('stamps each message with its own receipt time, down to the millisecond', () => {
    const stamps = [0, 0, 1, 1_000, 1].map((later) => {
      const outcome = ingest.ingest(
        topic,
        Buffer.from(JSON.stringify(good)),
        new Date(receivedAt.getTime() + later),
      );
      return outcome.accepted && outcome.record.receivedAt;
    });
    expect(stamps).toEqual([
      '2026-11-23T12:00:00.000Z',
      '2026-11-23T12:00:00.000Z',
      '2026-11-23T12:00:00.001Z',
      '2026-11-23T12:00:01.000Z',
      '2026-11-23T12:00:00.001Z',
    ]);
  });

  it('refuses a timestamp exactly when one of its fields is outside the calendar, leap days included', () => {
    const pad = (value: number, width: number) => String(value).padStart(width, '0');
    // Any digits the schema's pattern lets through, mostly at the edges of their ranges, in years that test leap days
    // (a date too old for the gateway is refused too, but for its age, not its calendar).
    const field = (max: number, edges: number[]) =>
      fc.oneof(fc.constantFrom(...edges), fc.integer({ min: 0, max }));
    const fields = fc.record({
      year: fc.constantFrom(2024, 2025, 2026, 2100, 2400),
      month: field(99, [0, 1, 2, 4, 12, 13]),
      day: field(99, [0, 1, 28, 29, 30, 31, 32]),
      hour: field(23, [23, 24, 99]),
      minute: field(59, [59, 60]),
      second: field(59, [59, 60]),
    });
    fc.assert(
      fc.property(fields, ({ year, month, day, hour, minute, second }) => {
        const ts = `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}T${pad(hour, 2)}:${pad(minute, 2)}:${pad(second, 2)}Z`;
        const utc = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
        // Date.UTC rolls fields over into the next unit: only a real date and time comes back unchanged.
        const inCalendar =
          utc.getUTCFullYear() === year &&
          utc.getUTCMonth() === month - 1 &&
          utc.getUTCDate() === day &&
          utc.getUTCHours() === hour &&
          utc.getUTCMinutes() === minute &&
          utc.getUTCSeconds() === second;
        const outcome = run({ ...good, ts });
        const refusedForCalendar =
          !outcome.accepted &&
          outcome.deadLetter.reason === 'schema-violation' &&
          outcome.deadLetter.path === '/ts';
        expect(refusedForCalendar).toBe(!inCalendar);
      }),
      {
        numRuns: 5_000,
        examples: [2024, 2025, 2100, 2400].map((year) => [
          { year, month: 2, day: 29, hour: 12, minute: 0, second: 0 },
        ]),
      },
    );
  });

  it('accepts a valid message and stamps when it was received', () => {
    const outcome = run(good);
    expect(outcome).toMatchObject({ accepted: true });
    expect(outcome.accepted && outcome.record).toEqual({
      ...good,
      channel: 'telemetry',
      receivedAt: '2026-11-23T12:00:00.000Z',
    });
  });

  it.each([
    ['taken as sent', JSON.stringify(good)],
    ['pretty-printed, with whitespace after it', `${JSON.stringify(good, null, 2)}\n\t `],
    ['with a field it does not know', JSON.stringify({ ...good, tyrePressureKpa: 230 })],
    ['with ext', JSON.stringify({ ...good, ext: { note: 'ü "quoted" }' } })],
    [
      'with raw OBD-II to decode',
      JSON.stringify({ ...good, speedKph: undefined, obd: { mode01: { '0D': '3C' } } }),
    ],
  ])('gives the Kafka record bytes that decode to the record: %s', (_case, payload) => {
    const outcome = run(payload);
    if (!outcome.accepted) throw new Error(outcome.deadLetter.detail);
    expect(decodeTelemetryRecord(outcome.bytes)).toStrictEqual(outcome.record);
    expect(outcome.record).toMatchObject({ channel: 'telemetry', receivedAt: '2026-11-23T12:00:00.000Z' });
  });

  it('keeps fields it does not know under ext instead of dropping them', () => {
    const outcome = run({ ...good, tyrePressureKpa: 230, ext: { firmware: '1.2' } });
    expect(outcome.accepted && outcome.record.ext).toEqual({ firmware: '1.2', tyrePressureKpa: 230 });
  });

  it.each([
    ['a channel devices do not have', good, 'fleet/acme/truck-1/config', 'unknown-topic', ''],
    ['a payload over the size limit', { ...good, ext: { pad: 'x'.repeat(2000) } }, topic, 'oversize', ''],
    ['truncated JSON', '{"vehicleId":"truck-1",', topic, 'invalid-json', ''],
    ['a JSON array', [good], topic, 'schema-violation', ''],
    ['a missing event time', { vehicleId: 'truck-1', fleetId: 'acme' }, topic, 'schema-violation', '/ts'],
    ['a speed given as text', { ...good, speedKph: '88' }, topic, 'schema-violation', '/speedKph'],
    ['a malformed DTC', { ...good, dtcs: ['P03011'] }, topic, 'schema-violation', '/dtcs/0'],
    [
      'a vehicle id that disagrees with the topic',
      { ...good, vehicleId: 'truck-2' },
      topic,
      'identity-mismatch',
      '/vehicleId',
    ],
    [
      'a fleet id that disagrees with the topic',
      { ...good, fleetId: 'other' },
      topic,
      'identity-mismatch',
      '/fleetId',
    ],
    [
      'an event time far in the future',
      { ...good, ts: '2026-11-24T12:00:00Z' },
      topic,
      'timestamp-out-of-range',
      '/ts',
    ],
    [
      'an event time older than the accepted age',
      { ...good, ts: '2026-11-01T12:00:00Z' },
      topic,
      'timestamp-out-of-range',
      '/ts',
    ],
    ['NaN, which JSON does not have', '{"vehicleId":"truck-1","speedKph":NaN}', topic, 'invalid-json', ''],
    [
      'an odometer too large for a number (1e400 parses to Infinity)',
      `{"vehicleId":"truck-1","fleetId":"acme","ts":"${good.ts}","odometerKm":1e400}`,
      topic,
      'schema-violation',
      '/odometerKm',
    ],
    [
      'a sequence number too large for a number',
      `{"vehicleId":"truck-1","fleetId":"acme","ts":"${good.ts}","seq":${'9'.repeat(400)}}`,
      topic,
      'schema-violation',
      '/seq',
    ],
    [
      'an unknown field of -1e400, which would be stored as null',
      `{"vehicleId":"truck-1","fleetId":"acme","ts":"${good.ts}","tyres":{"a/b":-1e400}}`,
      topic,
      'schema-violation',
      '/ext/tyres/a~1b',
    ],
    [
      'a day the month does not have',
      { ...good, ts: '2026-11-31T11:59:59Z' },
      topic,
      'schema-violation',
      '/ts',
    ],
    ['hour 24', { ...good, ts: '2026-11-22T24:00:00Z' }, topic, 'schema-violation', '/ts'],
    [
      'a vehicle id with a control character',
      { ...good, vehicleId: 'truck-1\u0007' },
      topic,
      'schema-violation',
      '/vehicleId',
    ],
    [
      'a position nested 400 levels deep (a known field: the schema refuses its type)',
      `{"vehicleId":"truck-1","fleetId":"acme","ts":"${good.ts}","position":${'['.repeat(400)}${']'.repeat(400)}}`,
      topic,
      'schema-violation',
      '/position',
    ],
  ])('sends %s to the dead letters with its reason and path', (_, payload, onTopic, reason, path) => {
    const deadLetter = rejection(run(payload, onTopic));
    expect(deadLetter).toMatchObject({ reason, path, mqttTopic: onTopic });
    expect(deadLetter.detail.length).toBeGreaterThan(0);
  });

  it('keeps only as many bytes of an oversize payload as the limit, so its dead letter stays a small record', () => {
    const huge = Buffer.from(JSON.stringify({ ...good, ext: { blob: 'x'.repeat(2 * 1024 * 1024) } }));
    const deadLetter = rejection(run(huge));
    expect(deadLetter).toMatchObject({ reason: 'oversize', detail: expect.stringContaining('first 1024') });
    expect(Buffer.from(deadLetter.payloadBase64, 'base64')).toEqual(huge.subarray(0, 1024));
  });

  it('keeps the original bytes of a rejected message so it can be inspected and replayed', () => {
    const bytes = Buffer.from([0xff, 0x00, 0x7b]);
    expect(Buffer.from(rejection(run(bytes)).payloadBase64, 'base64')).toEqual(bytes);
  });

  it('rejects a non-object ext rather than spreading it into fields', () => {
    expect(rejection(run({ ...good, ext: 'abc', extra: 1 }))).toMatchObject({
      reason: 'schema-violation',
      path: '/ext',
    });
  });
});

describe('TelemetryIngest, hostile payloads', () => {
  it('refuses a payload whose free-form part is nested beyond the limit (a nesting bomb)', () => {
    const bomb = `{"vehicleId":"truck-1","fleetId":"acme","ts":"2026-11-23T11:59:59Z","ext":${'['.repeat(40)}${']'.repeat(40)}}`;
    expect(rejection(run(bomb))).toMatchObject({ reason: 'nesting-too-deep' });
  });

  it('does not count brackets inside strings as nesting', () => {
    expect(
      run({ ...good, ext: { note: '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[{{{{{{{{{{{' } }),
    ).toMatchObject({ accepted: true });
  });

  it('keeps a "__proto__" key as data under ext instead of letting it replace the prototype', () => {
    const outcome = run(
      '{"vehicleId":"truck-1","fleetId":"acme","ts":"2026-11-23T11:59:59Z","__proto__":{"admin":true}}',
    );
    if (!outcome.accepted) throw new Error(outcome.deadLetter.detail);
    expect(JSON.stringify(outcome.record.ext)).toBe('{"__proto__":{"admin":true}}');
    expect((outcome.record.ext as { admin?: boolean }).admin).toBeUndefined();
  });

  it('records which device channel a message came from', () => {
    const outcome = run({ ...good, connection: 'offline' }, 'fleet/acme/truck-1/status');
    expect(outcome).toMatchObject({ accepted: true, record: { channel: 'status', connection: 'offline' } });
  });
});

describe('TelemetryIngest, raw OBD-II', () => {
  it('decodes raw Mode 01 and Mode 03 responses into the named fields and keeps the raw values', () => {
    // PID 0D = 0x3C → 60 km/h; 0C = 0x1AF8 → 1726 rpm; 0B (intake manifold pressure) has no named field.
    const obd = { mode01: { '0D': '3C', '0C': '1AF8', '0B': '21' }, mode03: '0301' };
    const outcome = run({ ...good, speedKph: undefined, rpm: undefined, obd });
    if (!outcome.accepted) throw new Error(outcome.deadLetter.detail);
    expect(outcome.record).toMatchObject({ speedKph: 60, rpm: 1726, dtcs: ['P0301'], obd });
    expect(outcome.record.ext).toEqual({ intakeManifoldPressureKpa: 33 });
  });

  it('keeps a value the device decoded itself over the raw one', () => {
    const outcome = run({ ...good, speedKph: 61, obd: { mode01: { '0D': '3C' } } });
    expect(outcome.accepted && outcome.record.speedKph).toBe(61);
  });

  it('sends an undecodable raw response to the dead letters, naming the PID', () => {
    const deadLetter = rejection(run({ ...good, obd: { mode01: { '0C': '1A' } } }));
    expect(deadLetter).toMatchObject({ reason: 'obd-undecodable', path: '/obd/mode01/0C' });
  });
});
