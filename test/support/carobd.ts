import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The carOBD recordings (a 2014 Toyota Etios, see data/carobd/README.md) beside the repository: /work/shared next
 * to /work/main, or wherever FLEETLOG_SHARED_DIR names the shared directory.
 */
export const carObdDir = join(
  process.env.FLEETLOG_SHARED_DIR ?? join(__dirname, '../../../shared'),
  'data/carobd',
);

/** One CSV row, in the telemetry contract's names and units. */
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
 * Reads one recording: `NAME ()` headers, rows ending in a trailing comma, values already in physical units. A row
 * narrower than the first (a truncated last write) is refused rather than read with missing values.
 */
export function readCarObdRecording(file: string): CarObdReading[] {
  const splitRow = (line: string) =>
    line
      .replace(/,\s*$/, '')
      .split(',')
      .map((cell) => cell.trim());
  const [headerLine = '', ...lines] = readFileSync(join(carObdDir, file), 'utf8').split(/\r?\n/);
  const header = splitRow(headerLine).map((name) => name.replace(/\s*\(\)$/, ''));
  const columns = Object.entries(fieldOfColumn).map(([column, field]) => {
    const index = header.indexOf(column);
    if (index < 0) throw new Error(`${file} has no ${column} column`);
    return { index, field };
  });
  const rows = lines.filter((line) => line.trim() !== '').map(splitRow);
  return rows.map((row, rowIndex) => {
    if (row.length !== rows[0]!.length) throw new Error(`${file} line ${rowIndex + 2} is truncated`);
    const reading = {} as CarObdReading;
    for (const { index, field } of columns) {
      const value = Number(row[index]);
      if (!Number.isFinite(value)) throw new Error(`${file} line ${rowIndex + 2}: ${field} is not a number`);
      reading[field] = value;
    }
    return reading;
  });
}

/** A recording replayed as one vehicle. */
export interface ReplayedDrive {
  vehicleId: string;
  readings: CarObdReading[];
}

/** One message of the replay: the row `seq` of a vehicle's recording at its assigned event time. */
export interface ReplayMessage {
  vehicleId: string;
  seq: number;
  time: number;
  reading: CarObdReading;
}

/**
 * The recordings carry no wall-clock time, only ~2 rows a second: row `seq` of every drive is given the event time
 * `baseMs + seq × stepMs`, and the vehicles are interleaved in event-time order, as devices driving at the same
 * time would publish them.
 */
export function replaySchedule(
  drives: readonly ReplayedDrive[],
  baseMs: number,
  stepMs: number,
): ReplayMessage[] {
  const longest = Math.max(...drives.map((drive) => drive.readings.length));
  const messages: ReplayMessage[] = [];
  for (let seq = 0; seq < longest; seq++) {
    for (const { vehicleId, readings } of drives) {
      const reading = readings[seq];
      if (reading) messages.push({ vehicleId, seq, time: baseMs + seq * stepMs, reading });
    }
  }
  return messages;
}
