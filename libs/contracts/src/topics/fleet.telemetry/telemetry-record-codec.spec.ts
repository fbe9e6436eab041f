import fc from 'fast-check';
import type { TelemetryRecord } from './telemetry-message';
import {
  decodeTelemetryRecord,
  encodeTelemetryRecord,
  telemetryRecordFormat,
} from './telemetry-record-codec';

const identifier = fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/);
const anyNumber = fc.double({ noNaN: true, noDefaultInfinity: true });
const isoTime = fc
  .date({ min: new Date('1970-01-01'), max: new Date('2200-01-01'), noInvalidDate: true })
  .map((date) => date.toISOString());
const hex = fc.stringMatching(/^[0-9A-F ]{0,16}$/);

/** Any record the gateway can write: every field optional where the schema says so, numbers any finite double. */
const record: fc.Arbitrary<TelemetryRecord> = fc.record(
  {
    vehicleId: identifier,
    fleetId: identifier,
    ts: fc.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/),
    seq: anyNumber,
    position: fc.record(
      { lat: anyNumber, lon: anyNumber, headingDeg: anyNumber, gnssSpeedKph: anyNumber },
      { requiredKeys: ['lat', 'lon'], noNullPrototype: true },
    ),
    speedKph: anyNumber,
    rpm: anyNumber,
    coolantTempC: anyNumber,
    intakeAirTempC: anyNumber,
    engineLoadPct: anyNumber,
    throttlePct: anyNumber,
    fuelLevelPct: anyNumber,
    batteryV: anyNumber,
    mafGs: anyNumber,
    odometerKm: anyNumber,
    ignition: fc.boolean(),
    dtcs: fc.array(fc.stringMatching(/^[PCBU][0-3][0-9A-F]{3}$/), { maxLength: 4 }),
    connection: fc.constantFrom('online' as const, 'offline' as const),
    obd: fc.record(
      {
        mode01: fc.dictionary(fc.stringMatching(/^[0-9A-F]{2}$/), hex, { noNullPrototype: true }),
        mode03: hex,
      },
      { requiredKeys: [], noNullPrototype: true },
    ),
    // Free-form JSON in both formats, as parsed from a device's payload: no -0, which JSON writes as 0.
    ext: fc
      .dictionary(fc.stringMatching(/^[a-z]{1,8}$/), fc.jsonValue(), { noNullPrototype: true })
      .map((ext) => JSON.parse(JSON.stringify(ext)) as Record<string, unknown>),
    channel: fc.constantFrom('telemetry' as const, 'dtc' as const, 'status' as const),
    receivedAt: isoTime,
  },
  { requiredKeys: ['vehicleId', 'fleetId', 'ts', 'channel', 'receivedAt'], noNullPrototype: true },
);

const reading: TelemetryRecord = {
  vehicleId: 'truck-1',
  fleetId: 'acme',
  ts: '2026-12-04T15:00:01.123Z',
  seq: 1234,
  position: { lat: 48.85661, lon: 2.35222, headingDeg: 123.4 },
  speedKph: 87.3,
  rpm: 2345.5,
  coolantTempC: 91,
  fuelLevelPct: 63.21,
  ignition: true,
  channel: 'telemetry',
  receivedAt: '2026-12-04T15:00:01.200Z',
};

/** A record with dtcs, its JSON tail replaced. */
function withTail(tail: string): Buffer {
  const value = encodeTelemetryRecord({ ...reading, dtcs: ['P0301'] });
  const tailLength = Buffer.byteLength(JSON.stringify({ dtcs: ['P0301'] }));
  return Buffer.concat([value.subarray(0, value.length - tailLength), Buffer.from(tail)]);
}

describe('fleet.telemetry record values', () => {
  it('decode to exactly the record that was encoded, whichever fields it has', () => {
    fc.assert(
      fc.property(record, (written) => {
        expect(decodeTelemetryRecord(encodeTelemetryRecord(written))).toStrictEqual(written);
      }),
      { numRuns: 2_000 },
    );
  });

  it('keep -0 and the last bit of every number, which a text format would have to spell out', () => {
    const exact = {
      ...reading,
      speedKph: -0,
      rpm: 0.1 + 0.2,
      odometerKm: Number.MAX_VALUE,
      batteryV: 5e-324,
    };
    const decoded = decodeTelemetryRecord(encodeTelemetryRecord(exact))!;
    expect(Object.is(decoded.speedKph, -0)).toBe(true);
    expect([decoded.rpm, decoded.odometerKm, decoded.batteryV]).toEqual([
      0.1 + 0.2,
      Number.MAX_VALUE,
      5e-324,
    ]);
  });

  it('start with the format byte and take less than half the bytes of the same record as JSON', () => {
    const value = encodeTelemetryRecord(reading);
    expect(value[0]).toBe(telemetryRecordFormat);
    expect(value.length).toBeLessThan(Buffer.byteLength(JSON.stringify(reading)) / 2);
  });

  it('written as JSON before the binary format (format 0) still decode, leading whitespace included', () => {
    for (const json of [JSON.stringify(reading), `\n\t ${JSON.stringify(reading, null, 2)}`]) {
      expect(decodeTelemetryRecord(Buffer.from(json))).toStrictEqual(reading);
    }
  });

  it('take dtcs, obd and ext from the JSON tail, the rest from the binary part', () => {
    const decoded = decodeTelemetryRecord(withTail('{"dtcs":["P0420"],"ext":{"note":"x"}}'));
    expect(decoded).toStrictEqual({ ...reading, dtcs: ['P0420'], ext: { note: 'x' } });
  });

  it.each([
    ['empty', Buffer.alloc(0)],
    ['of a later format', Buffer.concat([Buffer.from([2]), encodeTelemetryRecord(reading).subarray(1)])],
    ['with an unknown channel', Buffer.from(encodeTelemetryRecord(reading)).fill(7, 1, 2)],
    ['JSON that is not a record', Buffer.from('{"vehicleId":"truck-1"}')],
    ['binary with a JSON tail that is not an object', withTail('null')],
    ['neither format', Buffer.from('not a record')],
  ])('are unreadable, not misread, when %s', (_case, value) => {
    expect(decodeTelemetryRecord(value)).toBeUndefined();
  });

  it('are unreadable when a presence bit is one this format does not know', () => {
    const value = Buffer.from(encodeTelemetryRecord(reading));
    value.writeUInt32LE(value.readUInt32LE(2) | (1 << 15), 2);
    expect(decodeTelemetryRecord(value)).toBeUndefined();
  });

  it('are unreadable when cut short anywhere, never decoded to a partial record', () => {
    fc.assert(
      fc.property(record, fc.nat(), (written, cut) => {
        const value = encodeTelemetryRecord(written);
        expect(decodeTelemetryRecord(value.subarray(0, cut % value.length))).toBeUndefined();
      }),
      { numRuns: 1_000 },
    );
  });

  it('cannot be written for a string longer than its one-byte length or for an unknown channel', () => {
    expect(() => encodeTelemetryRecord({ ...reading, ts: 'x'.repeat(256) })).toThrow(/too long/);
    expect(() => encodeTelemetryRecord({ ...reading, channel: 'radio' as never })).toThrow(
      /not a device channel/,
    );
  });
});
