import { TelemetryIngest, type IngestOutcome } from './telemetry-ingest';

const receivedAt = new Date('2026-11-23T12:00:00.000Z');
const topic = 'fleet/acme/truck-1/telemetry';
const ingest = new TelemetryIngest({ maxPayloadBytes: 1024, maxFutureSkewMs: 60_000, maxAgeMs: 86_400_000 });
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
  it('accepts a valid message and stamps when it was received', () => {
    const outcome = run(good);
    expect(outcome).toEqual({ accepted: true, record: { ...good, receivedAt: '2026-11-23T12:00:00.000Z' } });
  });

  it('keeps fields it does not know under ext instead of dropping them', () => {
    const outcome = run({ ...good, tyrePressureKpa: 230, ext: { firmware: '1.2' } });
    expect(outcome.accepted && outcome.record.ext).toEqual({ firmware: '1.2', tyrePressureKpa: 230 });
  });

  it.each([
    ['a topic outside the telemetry tree', good, 'fleet/acme/truck-1/status', 'unknown-topic', ''],
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
  ])('sends %s to the dead letters with its reason and path', (_, payload, onTopic, reason, path) => {
    const deadLetter = rejection(run(payload, onTopic));
    expect(deadLetter).toMatchObject({ reason, path, mqttTopic: onTopic });
    expect(deadLetter.detail.length).toBeGreaterThan(0);
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
