import type { TelemetryMessage, TelemetryRecord } from './telemetry-message';

/**
 * The value of a fleet.telemetry record, in one of two formats told apart by its first byte. Both are read forever:
 * replays read the log from its first record.
 *
 * - **Format 0**, written until 2026-12-04: the record's JSON (`{`, or whitespace before it).
 * - **Format 1**, binary, little-endian, written since: parsing JSON was a third of cep's time per message.
 *
 *   | bytes  | content                                                                                              |
 *   | ------ | ---------------------------------------------------------------------------------------------------- |
 *   | 1      | format: 1                                                                                            |
 *   | 1      | channel: 0 telemetry, 1 dtc, 2 status                                                               |
 *   | 4      | uint32 presence bits: one per number (`numberBits`), then ignition, connection and the JSON tail      |
 *   | 4      | lengths in UTF-16 code units of vehicleId, fleetId, ts and receivedAt, one byte each                 |
 *   | 2      | uint16 byte length of the text that follows                                                          |
 *   | text   | vehicleId, fleetId, ts and receivedAt one after the other, UTF-8                                     |
 *   | 8 each | float64 of every number present, in the order of their bits                                          |
 *   | rest   | if its flag is set: UTF-8 JSON of an object holding `dtcs`, `obd` and `ext` where present             |
 *
 * Every number the schema knows is a float64, so a record decodes to exactly what the gateway validated. A value
 * starting with a byte from 2 to 8 is of a later format: unreadable here, never misread.
 */
export const telemetryRecordFormat = 1;

// Bits 0–14 say which numbers are present, in their order (`numbersOf`); lat and lon come together. A new field is a
// new format: a reader refuses bits it does not know rather than misplace what follows them.
const hasSeq = 1 << 0;
const hasLat = 1 << 1;
const hasLon = 1 << 2;
const hasHeading = 1 << 3;
const hasGnssSpeed = 1 << 4;
const numberCount = 15;
const numberBits = (1 << numberCount) - 1;
// Bits of the rest.
const hasIgnition = 1 << 16;
const ignitionOn = 1 << 17;
const hasConnection = 1 << 18;
const connectionOnline = 1 << 19;
const hasJsonTail = 1 << 20;
const knownBits = numberBits | hasIgnition | ignitionOn | hasConnection | connectionOnline | hasJsonTail;

const channels: readonly TelemetryRecord['channel'][] = ['telemetry', 'dtc', 'status'];
const tailFields = ['dtcs', 'obd', 'ext'] as const;
const textAt = 12;
/** The first byte of a JSON text: `{` or whitespace (0x09, 0x0A, 0x0D, 0x20). */
const formatZeroFirstBytes = new Set([0x7b, 0x09, 0x0a, 0x0d, 0x20]);

// Numbers go through an aligned scratch array: reading or writing a float64 at any offset of a Buffer costs
// several times as much. Encoding and decoding are synchronous, so one array serves every call.
const scratchNumbers = new Float64Array(numberCount);
const scratchBytes = new Uint8Array(scratchNumbers.buffer);

/** Every number of format 1, present or not, in the order of their bits. */
function numbersOf(record: TelemetryRecord): (number | undefined)[] {
  const position = record.position;
  return [
    record.seq,
    position?.lat,
    position?.lon,
    position?.headingDeg,
    position?.gnssSpeedKph,
    record.speedKph,
    record.rpm,
    record.coolantTempC,
    record.intakeAirTempC,
    record.engineLoadPct,
    record.throttlePct,
    record.fuelLevelPct,
    record.batteryV,
    record.mafGs,
    record.odometerKm,
  ];
}

export function encodeTelemetryRecord(record: TelemetryRecord): Buffer {
  const numbers = numbersOf(record);
  let presence = 0;
  let count = 0;
  for (let bit = 0; bit < numberCount; bit++) {
    const value = numbers[bit];
    if (value === undefined) continue;
    presence |= 1 << bit;
    scratchNumbers[count++] = value;
  }
  if (record.ignition !== undefined) presence |= hasIgnition | (record.ignition ? ignitionOn : 0);
  if (record.connection !== undefined)
    presence |= hasConnection | (record.connection === 'online' ? connectionOnline : 0);
  const tail = tailOf(record);
  if (tail !== undefined) presence |= hasJsonTail;

  const { vehicleId, fleetId, ts, receivedAt } = record;
  const text = vehicleId + fleetId + ts + receivedAt;
  const textBytes = Buffer.byteLength(text);
  const numbersAt = textAt + textBytes;
  const tailAt = numbersAt + count * 8;
  const bytes = Buffer.allocUnsafe(tailAt + (tail === undefined ? 0 : Buffer.byteLength(tail)));
  bytes[0] = telemetryRecordFormat;
  bytes[1] = channelCode(record.channel);
  bytes.writeUInt32LE(presence, 2);
  bytes[6] = lengthOf(vehicleId);
  bytes[7] = lengthOf(fleetId);
  bytes[8] = lengthOf(ts);
  bytes[9] = lengthOf(receivedAt);
  bytes.writeUInt16LE(textBytes, 10);
  bytes.write(text, textAt, 'utf8');
  bytes.set(scratchBytes.subarray(0, count * 8), numbersAt);
  if (tail !== undefined) bytes.write(tail, tailAt, 'utf8');
  return bytes;
}

/** The record a fleet.telemetry value holds, in either format; undefined when it holds none. */
export function decodeTelemetryRecord(value: Buffer): TelemetryRecord | undefined {
  if (value.length === 0) return undefined;
  const format = value[0]!;
  if (format === telemetryRecordFormat) return decodeFormatOne(value);
  return formatZeroFirstBytes.has(format) ? decodeFormatZero(value) : undefined;
}

function decodeFormatZero(value: Buffer): TelemetryRecord | undefined {
  try {
    const parsed = JSON.parse(value.toString('utf8')) as TelemetryRecord;
    const valid =
      typeof parsed?.vehicleId === 'string' &&
      typeof parsed.fleetId === 'string' &&
      typeof parsed.ts === 'string';
    return valid ? parsed : undefined;
  } catch {
    return undefined;
  }
}

function decodeFormatOne(value: Buffer): TelemetryRecord | undefined {
  if (value.length < textAt) return undefined;
  const channel = channels[value[1]!];
  const presence = value.readUInt32LE(2);
  const numbersAt = textAt + value.readUInt16LE(10);
  const count = bitCount(presence & numberBits);
  const tailAt = numbersAt + count * 8;
  const readable =
    channel !== undefined &&
    (presence & ~knownBits) === 0 &&
    ((presence & hasLat) === 0) === ((presence & hasLon) === 0) &&
    tailAt <= value.length;
  if (!readable) return undefined;
  const text = value.toString('utf8', textAt, numbersAt);
  const fleetIdAt = value[6]!;
  const tsAt = fleetIdAt + value[7]!;
  const receivedAtAt = tsAt + value[8]!;
  const textEnd = receivedAtAt + value[9]!;
  if (textEnd !== text.length) return undefined;
  scratchBytes.set(value.subarray(numbersAt, tailAt));

  const record = {
    vehicleId: text.substring(0, fleetIdAt),
    fleetId: text.substring(fleetIdAt, tsAt),
    ts: text.substring(tsAt, receivedAtAt),
  } as TelemetryMessage;
  let next = 0;
  if (presence & hasSeq) record.seq = scratchNumbers[next++];
  if (presence & hasLat) {
    const position: NonNullable<TelemetryMessage['position']> = {
      lat: scratchNumbers[next++]!,
      lon: scratchNumbers[next++]!,
    };
    if (presence & hasHeading) position.headingDeg = scratchNumbers[next++];
    if (presence & hasGnssSpeed) position.gnssSpeedKph = scratchNumbers[next++];
    record.position = position;
  }
  // One named store per field: through a computed key, the stores cost twice as much, and V8 turns a record with
  // more than 12 properties outside its own fields (these are) into a slow dictionary.
  if (presence & (1 << 5)) record.speedKph = scratchNumbers[next++];
  if (presence & (1 << 6)) record.rpm = scratchNumbers[next++];
  if (presence & (1 << 7)) record.coolantTempC = scratchNumbers[next++];
  if (presence & (1 << 8)) record.intakeAirTempC = scratchNumbers[next++];
  if (presence & (1 << 9)) record.engineLoadPct = scratchNumbers[next++];
  if (presence & (1 << 10)) record.throttlePct = scratchNumbers[next++];
  if (presence & (1 << 11)) record.fuelLevelPct = scratchNumbers[next++];
  if (presence & (1 << 12)) record.batteryV = scratchNumbers[next++];
  if (presence & (1 << 13)) record.mafGs = scratchNumbers[next++];
  if (presence & (1 << 14)) record.odometerKm = scratchNumbers[next++];
  if (presence & hasIgnition) record.ignition = (presence & ignitionOn) !== 0;
  if (presence & hasConnection) record.connection = presence & connectionOnline ? 'online' : 'offline';
  if (presence & hasJsonTail) {
    const tail = tailFrom(value, tailAt);
    if (tail === undefined) return undefined;
    // Named stores: see the readings above.
    if (tail.dtcs !== undefined) record.dtcs = tail.dtcs;
    if (tail.obd !== undefined) record.obd = tail.obd;
    if (tail.ext !== undefined) record.ext = tail.ext;
  }
  const stamped = record as TelemetryRecord;
  stamped.channel = channel;
  stamped.receivedAt = text.substring(receivedAtAt, textEnd);
  return stamped;
}

type Tail = Pick<TelemetryMessage, (typeof tailFields)[number]>;

function tailFrom(value: Buffer, at: number): Tail | undefined {
  try {
    const tail: unknown = JSON.parse(value.toString('utf8', at));
    return typeof tail === 'object' && tail !== null ? (tail as Tail) : undefined;
  } catch {
    return undefined;
  }
}

function tailOf(record: TelemetryRecord): string | undefined {
  if (record.dtcs === undefined && record.obd === undefined && record.ext === undefined) return undefined;
  const tail: Record<string, unknown> = {};
  for (const field of tailFields) if (record[field] !== undefined) tail[field] = record[field];
  return JSON.stringify(tail);
}

function channelCode(channel: TelemetryRecord['channel']): number {
  const code = channels.indexOf(channel);
  if (code < 0) throw new RangeError(`${JSON.stringify(channel)} is not a device channel`);
  return code;
}

function lengthOf(text: string): number {
  if (text.length > 255) throw new RangeError(`${text.slice(0, 40)}… is too long for a telemetry record`);
  return text.length;
}

function bitCount(bits: number): number {
  let count = 0;
  for (let rest = bits; rest !== 0; rest &= rest - 1) count++;
  return count;
}
