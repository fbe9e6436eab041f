import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import {
  telemetryMessageSchema,
  type TelemetryDeadLetter,
  type TelemetryMessage,
  type TelemetryRecord,
  type TelemetryRejectionReason,
} from '@fleetlog/contracts';
import { parseTelemetryTopic } from './telemetry-topic';

export interface TelemetryIngestOptions {
  maxPayloadBytes: number;
  /** How far ahead of the gateway's clock an event time may be (device clock skew). */
  maxFutureSkewMs: number;
  /** How old an event time may be (devices buffering while offline upload late). */
  maxAgeMs: number;
}

export type IngestOutcome =
  { accepted: true; record: TelemetryRecord } | { accepted: false; deadLetter: TelemetryDeadLetter };

const knownFields = new Set(Object.keys(telemetryMessageSchema.properties));

/**
 * Turns the bytes a device published into a telemetry record or a dead letter. Pure and synchronous, so the
 * gateway's hot path is one call, and every rejection carries its reason and the JSON Pointer at fault.
 */
export class TelemetryIngest {
  private readonly validate: ValidateFunction<TelemetryMessage>;

  constructor(private readonly options: TelemetryIngestOptions) {
    this.validate = new Ajv({ allErrors: false, strict: true }).compile<TelemetryMessage>(
      telemetryMessageSchema,
    );
  }

  ingest(mqttTopic: string, payload: Buffer, receivedAt: Date): IngestOutcome {
    const reject = (reason: TelemetryRejectionReason, detail: string, path = ''): IngestOutcome => ({
      accepted: false,
      deadLetter: {
        reason,
        detail,
        path,
        mqttTopic,
        receivedAt: receivedAt.toISOString(),
        payloadBase64: payload.toString('base64'),
      },
    });

    const identity = parseTelemetryTopic(mqttTopic);
    if (!identity) return reject('unknown-topic', `no telemetry topic: ${JSON.stringify(mqttTopic)}`);
    if (payload.length > this.options.maxPayloadBytes) {
      return reject('oversize', `${payload.length} bytes, limit ${this.options.maxPayloadBytes}`);
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
    const message = withUnknownFieldsUnderExt(parsed as Record<string, unknown>);
    if (!this.validate(message)) {
      const error = this.validate.errors![0]!;
      return reject('schema-violation', error.message ?? 'invalid', pointerOf(error));
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
    const eventTime = Date.parse(message.ts);
    const now = receivedAt.getTime();
    if (!(eventTime <= now + this.options.maxFutureSkewMs && eventTime >= now - this.options.maxAgeMs)) {
      return reject(
        'timestamp-out-of-range',
        `event time ${message.ts} is outside the accepted range`,
        '/ts',
      );
    }
    return { accepted: true, record: { ...message, receivedAt: receivedAt.toISOString() } };
  }
}

function withUnknownFieldsUnderExt(message: Record<string, unknown>): Record<string, unknown> {
  const hasUnknownKeys = Object.keys(message).some((key) => !knownFields.has(key));
  // A non-object ext is left in place for the schema to reject, rather than spread into fields.
  if (!hasUnknownKeys || !isPlainObjectOrAbsent(message.ext)) return message;
  const known: Record<string, unknown> = {};
  const ext: Record<string, unknown> = { ...(message.ext as Record<string, unknown> | undefined) };
  for (const [key, value] of Object.entries(message)) {
    if (knownFields.has(key)) known[key] = value;
    else ext[key] = value;
  }
  return { ...known, ext };
}

function isPlainObjectOrAbsent(value: unknown): boolean {
  return value === undefined || (typeof value === 'object' && value !== null && !Array.isArray(value));
}

function pointerOf(error: ErrorObject): string {
  return error.keyword === 'required'
    ? `${error.instancePath}/${(error.params as { missingProperty: string }).missingProperty}`
    : error.instancePath;
}
