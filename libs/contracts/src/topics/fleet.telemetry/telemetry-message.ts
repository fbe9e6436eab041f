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
  /** Fields the schema does not know, kept so that nothing a device sent is lost. */
  ext?: Record<string, unknown>;
}

/** The value of a fleet.telemetry record (key: vehicleId): the validated message, stamped by the gateway. */
export interface TelemetryRecord extends TelemetryMessage {
  /** When the gateway received it, ISO 8601. */
  receivedAt: string;
}
