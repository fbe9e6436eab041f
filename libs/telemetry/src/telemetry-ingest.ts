import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import {
  encodeTelemetryRecord,
  telemetryMessageSchema,
  type TelemetryDeadLetter,
  type TelemetryMessage,
  type TelemetryRecord,
  type TelemetryRejectionReason,
} from '@fleetlog/contracts';
import { decodeRawTelemetry, type DecodedObdTelemetry } from '@fleetlog/obd';
import { parseDeviceTopic } from './telemetry-topic';

export interface TelemetryIngestOptions {
  maxPayloadBytes: number;
  /** Nesting bombs are refused before parsing: JSON.parse would recurse, and sinks have their own limits. */
  maxNestingDepth: number;
  /** How far ahead of the gateway's clock an event time may be (device clock skew). */
  maxFutureSkewMs: number;
  /** How old an event time may be (devices buffering while offline upload late). */
  maxAgeMs: number;
}

export type IngestOutcome =
  | {
      accepted: true;
      record: TelemetryRecord;
      /** The record as the value of its Kafka record (`encodeTelemetryRecord`). */
      bytes: Buffer;
    }
  | { accepted: false; deadLetter: TelemetryDeadLetter };

const knownFields = new Set(Object.keys(telemetryMessageSchema.properties));

/**
 * Turns the bytes a device published into a telemetry record or a dead letter. Pure and synchronous, so the
 * gateway's hot path is one call, and every rejection carries its reason and the JSON Pointer at fault.
 */
export class TelemetryIngest {
  private readonly validate: ValidateFunction<TelemetryMessage>;
  /** The last receipt time seen and its text: under load, many messages arrive within one millisecond. */
  private lastReceivedAt = Number.NaN;
  private lastReceivedAtText = '';

  constructor(private readonly options: TelemetryIngestOptions) {
    this.validate = new Ajv({ allErrors: false, strict: true }).compile<TelemetryMessage>(
      telemetryMessageSchema,
    );
  }

  ingest(mqttTopic: string, payload: Buffer, receivedAt: Date): IngestOutcome {
    const reject = (
      reason: TelemetryRejectionReason,
      detail: string,
      path = '',
      kept = payload,
    ): IngestOutcome => ({
      accepted: false,
      deadLetter: {
        reason,
        detail,
        path,
        mqttTopic,
        receivedAt: this.textOf(receivedAt),
        payloadBase64: kept.toString('base64'),
      },
    });

    const identity = parseDeviceTopic(mqttTopic);
    if (!identity) {
      return reject(
        'unknown-topic',
        `not fleet/{fleetId}/{vehicleId}/telemetry|dtc|status: ${JSON.stringify(mqttTopic)}`,
      );
    }
    const limit = this.options.maxPayloadBytes;
    if (payload.length > limit) {
      // Kept whole, a payload of megabytes would make a dead letter larger than Kafka takes (1 MB by default): refused
      // for good, it would hold up every message behind it.
      return reject(
        'oversize',
        `${payload.length} bytes, limit ${limit}: the dead letter keeps the first ${limit}`,
        '',
        payload.subarray(0, limit),
      );
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(payload.toString('utf8'));
    } catch (error) {
      return reject('invalid-json', (error as Error).message);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      return reject('schema-violation', 'must be a JSON object');
    }
    const fields = parsed as Record<string, unknown>;
    const unknownKeys = hasUnknownKeys(fields);
    // The schema bounds the nesting of every field it knows; only `ext` and fields it does not know are free-form.
    // (JSON.parse itself copes with any depth the size limit allows, so this can wait until after parsing.)
    const freeForm = unknownKeys || fields.ext !== undefined;
    if (freeForm && nestingDepth(payload, this.options.maxNestingDepth) > this.options.maxNestingDepth) {
      return reject('nesting-too-deep', `nested deeper than ${this.options.maxNestingDepth} levels`);
    }
    const message = unknownKeys ? withUnknownFieldsUnderExt(fields) : fields;
    if (!this.validate(message)) {
      const error = this.validate.errors![0]!;
      return reject('schema-violation', error.message ?? 'invalid', pointerOf(error));
    }
    const nonFinite = nonFiniteNumberPath(message);
    if (nonFinite) {
      // JSON.parse turns a number too large for a double (1e400) into Infinity, which JSON cannot carry on.
      return reject('schema-violation', 'must be a finite number', pointerTo(nonFinite));
    }
    if (message.vehicleId !== identity.vehicleId) {
      return reject(
        'identity-mismatch',
        `vehicleId does not match the topic's ${identity.vehicleId}`,
        '/vehicleId',
      );
    }
    if (message.fleetId !== identity.fleetId) {
      return reject(
        'identity-mismatch',
        `fleetId does not match the topic's ${identity.fleetId}`,
        '/fleetId',
      );
    }
    if (!isCalendarTime(message.ts)) {
      // Date.parse rolls 2026-11-31 over into December; Elasticsearch refuses it, so it would never be stored.
      return reject('schema-violation', `${message.ts} is not a date and time of the calendar`, '/ts');
    }
    const eventTime = Date.parse(message.ts);
    const now = receivedAt.getTime();
    if (!(eventTime <= now + this.options.maxFutureSkewMs && eventTime >= now - this.options.maxAgeMs)) {
      return reject(
        'timestamp-out-of-range',
        `event time ${message.ts} is outside the accepted range`,
        '/ts',
      );
    }
    if (message.obd) {
      const decoded = decodeRawTelemetry(message.obd);
      if (!decoded.ok) return reject('obd-undecodable', decoded.reason, `/obd${decoded.path}`);
      withDecodedObd(message, decoded);
    }
    const record = message as TelemetryMessage as TelemetryRecord;
    record.channel = identity.channel;
    record.receivedAt = this.textOf(receivedAt);
    return { accepted: true, record, bytes: encodeTelemetryRecord(record) };
  }

  private textOf(receivedAt: Date): string {
    const time = receivedAt.getTime();
    if (time !== this.lastReceivedAt) {
      this.lastReceivedAt = time;
      this.lastReceivedAtText = receivedAt.toISOString();
    }
    return this.lastReceivedAtText;
  }
}

/** Decoded values fill the named fields a device did not send itself; values without a field go under `ext`. */
function withDecodedObd(message: TelemetryMessage, decoded: DecodedObdTelemetry): void {
  const fields = message as unknown as Record<string, unknown>;
  for (const [field, value] of Object.entries(decoded.fields)) fields[field] ??= value;
  if (decoded.dtcs) message.dtcs = [...new Set([...(message.dtcs ?? []), ...decoded.dtcs])];
  if (Object.keys(decoded.extra).length > 0) message.ext = { ...decoded.extra, ...message.ext };
}

function hasUnknownKeys(message: Record<string, unknown>): boolean {
  for (const key in message) if (!knownFields.has(key)) return true;
  return false;
}

function withUnknownFieldsUnderExt(message: Record<string, unknown>): Record<string, unknown> {
  // A non-object ext is left in place for the schema to reject, rather than spread into fields.
  if (!isPlainObjectOrAbsent(message.ext)) return message;
  const known: Record<string, unknown> = {};
  // Own properties only, defined rather than assigned: a device's "__proto__" key stays data, not a prototype.
  const ext: Record<string, unknown> = {};
  const keep = (target: Record<string, unknown>, key: string, value: unknown) =>
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  for (const [key, value] of Object.entries((message.ext ?? {}) as Record<string, unknown>))
    keep(ext, key, value);
  for (const [key, value] of Object.entries(message)) {
    if (key !== 'ext') keep(knownFields.has(key) ? known : ext, key, value);
  }
  return { ...known, ext };
}

const openBrace = 0x7b;
const openBracket = 0x5b;
const closeBrace = 0x7d;
const closeBracket = 0x5d;
const quote = 0x22;
const backslash = 0x5c;

/** Deepest bracket nesting in the raw JSON, outside strings; stops counting once past `limit`. */
function nestingDepth(payload: Buffer, limit: number): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let index = 0; index < payload.length; index++) {
    const byte = payload[index];
    if (inString) {
      if (byte === backslash) index++;
      else if (byte === quote) inString = false;
    } else if (byte === quote) {
      inString = true;
    } else if (byte === openBrace || byte === openBracket) {
      depth++;
      if (depth > deepest) deepest = depth;
      if (deepest > limit) return deepest;
    } else if (byte === closeBrace || byte === closeBracket) {
      depth--;
    }
  }
  return deepest;
}

/** The keys leading to the first number that is not finite, if any (nesting is bounded by then). */
function nonFiniteNumberPath(value: unknown): string[] | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : [];
  if (typeof value !== 'object' || value === null) return undefined;
  for (const key in value) {
    const found = nonFiniteNumberPath((value as Record<string, unknown>)[key]);
    if (found) return [key, ...found];
  }
  return undefined;
}

function pointerTo(keys: readonly string[]): string {
  return keys.map((key) => `/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');
}

/**
 * Month, day, hour, minute and second in their ranges (the schema's pattern only says they are digits). Read digit
 * by digit from their fixed places: a regular expression and a Date per message took a twelfth of the hot path.
 */
function isCalendarTime(ts: string): boolean {
  const month = digitsAt(ts, 5, 2);
  const day = digitsAt(ts, 8, 2);
  return (
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    day <= daysInMonth(digitsAt(ts, 0, 4), month) &&
    digitsAt(ts, 11, 2) <= 23 &&
    digitsAt(ts, 14, 2) <= 59 &&
    digitsAt(ts, 17, 2) <= 59
  );
}

function digitsAt(text: string, at: number, count: number): number {
  let value = 0;
  for (let index = at; index < at + count; index++) value = value * 10 + text.charCodeAt(index) - zero;
  return value;
}

const zero = 0x30;

/** In the proleptic Gregorian calendar, as Elasticsearch's date parsing and Date.UTC use it. */
function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

function isPlainObjectOrAbsent(value: unknown): boolean {
  return value === undefined || (typeof value === 'object' && value !== null && !Array.isArray(value));
}

function pointerOf(error: ErrorObject): string {
  return error.keyword === 'required'
    ? `${error.instancePath}/${(error.params as { missingProperty: string }).missingProperty}`
    : error.instancePath;
}
