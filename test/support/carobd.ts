import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseCarObdRecording, type CarObdReading } from '@fleetlog/simulation';

export type { CarObdReading };

/**
 * The carOBD recordings (a 2014 Toyota Etios, see data/carobd/README.md) beside the repository: /work/shared next
 * to /work/main, or wherever FLEETLOG_SHARED_DIR names the shared directory.
 */
export const carObdDir = join(
  process.env.FLEETLOG_SHARED_DIR ?? join(__dirname, '../../../shared'),
  'data/carobd',
);

/** Reads one recording from the shared data directory. */
export function readCarObdRecording(file: string): CarObdReading[] {
  return parseCarObdRecording(file, readFileSync(join(carObdDir, file), 'utf8'));
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
