export type TelemetryRejectionReason =
  | 'oversize'
  | 'invalid-json'
  | 'nesting-too-deep'
  | 'schema-violation'
  | 'obd-undecodable'
  | 'identity-mismatch'
  | 'unknown-topic'
  | 'timestamp-out-of-range';

/** The value of a fleet.telemetry.dlq record: enough to understand the rejection and to replay the original bytes. */
export interface TelemetryDeadLetter {
  reason: TelemetryRejectionReason;
  /** What is wrong, in words. */
  detail: string;
  /** JSON Pointer of the offending value, '' for the whole payload. */
  path: string;
  mqttTopic: string;
  receivedAt: string;
  /**
   * The bytes the device sent. For an `oversize` payload only its first GATEWAY_MAX_PAYLOAD_BYTES: a dead letter must
   * itself fit within Kafka's record size.
   */
  payloadBase64: string;
}
