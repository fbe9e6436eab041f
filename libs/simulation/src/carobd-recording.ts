import type { TelemetryMessage } from '@fleetlog/contracts';

/**
 * One row of a carOBD recording (the public dataset of a 2014 Toyota Etios under data/carobd), in the telemetry
 * contract's names and units.
 */
export interface CarObdReading {
  speedKph: number;
  rpm: number;
  coolantTempC: number;
  intakeAirTempC: number;
  engineLoadPct: number;
  throttlePct: number;
  fuelLevelPct: number;
  batteryV: number;
}

const fieldOfColumn: Record<string, keyof CarObdReading> = {
  VEHICLE_SPEED: 'speedKph',
  ENGINE_RPM: 'rpm',
  COOLANT_TEMPERATURE: 'coolantTempC',
  INTAKE_AIR_TEMP: 'intakeAirTempC',
  ENGINE_LOAD: 'engineLoadPct',
  THROTTLE: 'throttlePct',
  FUEL_TANK: 'fuelLevelPct',
  CONTROL_MODULE_VOLTAGE: 'batteryV',
};

/**
 * Parses one recording's CSV text (`source` names it in errors): `NAME ()` headers, rows ending in a trailing comma,
 * values already in physical units. A final row narrower than the others is the recorder stopping mid-write and is
 * left out; a narrower row anywhere else is refused rather than read with missing values.
 */
export function parseCarObdRecording(source: string, text: string): CarObdReading[] {
  const splitRow = (line: string) =>
    line
      .replace(/,\s*$/, '')
      .split(',')
      .map((cell) => cell.trim());
  const [headerLine = '', ...lines] = text.split(/\r?\n/);
  const header = splitRow(headerLine).map((name) => name.replace(/\s*\(\)$/, ''));
  const columns = Object.entries(fieldOfColumn).map(([column, field]) => {
    const index = header.indexOf(column);
    if (index < 0) throw new Error(`${source} has no ${column} column`);
    return { index, field };
  });
  const rows = lines.filter((line) => line.trim() !== '').map(splitRow);
  if (rows.length > 1 && rows.at(-1)!.length < rows[0]!.length) rows.pop();
  return rows.map((row, rowIndex) => {
    if (row.length !== rows[0]!.length) throw new Error(`${source} line ${rowIndex + 2} is truncated`);
    const reading = {} as CarObdReading;
    for (const { index, field } of columns) {
      const value = Number(row[index]);
      if (!Number.isFinite(value))
        throw new Error(`${source} line ${rowIndex + 2}: ${field} is not a number`);
      reading[field] = value;
    }
    return reading;
  });
}

/**
 * A recorded drive played back as a live vehicle: each tick publishes the next row stamped with the current time,
 * so a real car's readings go through the pipeline as if it were driving now. Loops at the end of the recording;
 * `startRow` lets many vehicles play one recording out of step.
 */
export class RecordedVehicle {
  private row: number;
  private seq = 0;

  constructor(
    private readonly identity: { fleetId: string; vehicleId: string },
    private readonly readings: readonly CarObdReading[],
    startRow = 0,
  ) {
    if (readings.length === 0) throw new Error(`no readings to play for ${identity.vehicleId}`);
    this.row = startRow % readings.length;
  }

  tick(now: Date): TelemetryMessage {
    const reading = this.readings[this.row]!;
    this.row = (this.row + 1) % this.readings.length;
    return {
      ...this.identity,
      ts: now.toISOString(),
      seq: this.seq++,
      ...reading,
      ignition: reading.rpm > 0,
    };
  }
}
