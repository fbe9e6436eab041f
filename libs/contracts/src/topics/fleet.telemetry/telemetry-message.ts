/** Mirrors telemetry-message.v1.schema.json, the contract published to device makers. */
export interface TelemetryMessage {
  vehicleId: string;
  fleetId: string;
  /** Event time, ISO 8601. */
  ts: string;
  seq?: number;
  position?: { lat: number; lon: number; headingDeg?: number; gnssSpeedKph?: number };
  speedKph?: number;
  rpm?: number;
  coolantTempC?: number;
  intakeAirTempC?: number;
  engineLoadPct?: number;
  throttlePct?: number;
  fuelLevelPct?: number;
  batteryV?: number;
  mafGs?: number;
  odometerKm?: number;
  ignition?: boolean;
  dtcs?: string[];
  /** On the status channel: connection state (a last will says offline). */
  connection?: 'online' | 'offline';
  /** Raw OBD-II responses (hex): Mode 01 data bytes per PID, Mode 03 trouble-code bytes. */
  obd?: { mode01?: Record<string, string>; mode03?: string };
  /** Fields the schema does not know, kept so that nothing a device sent is lost. */
  ext?: Record<string, unknown>;
}

/**
 * Fleet and vehicle ids: levels of the device's MQTT topic (`fleet/{fleetId}/{vehicleId}/…`), so they can hold no
 * slash, plus or hash. The same syntax wherever an id is accepted: topics, the api, the registry of vehicles.
 */
export const deviceIdSyntax = '[A-Za-z0-9_-]{1,64}';
export const deviceIdPattern = new RegExp(`^${deviceIdSyntax}$`);

/**
 * A fleet.telemetry record (key: vehicleId): the validated message, stamped by the gateway. Its value is written by
 * `encodeTelemetryRecord`.
 */
export interface TelemetryRecord extends TelemetryMessage {
  /** The MQTT topic's last level: telemetry, dtc or status. */
  channel: 'telemetry' | 'dtc' | 'status';
  /** When the gateway received it, ISO 8601. */
  receivedAt: string;
}
