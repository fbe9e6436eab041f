import { requirePositiveInteger } from './positive-integer';
import type { TimeWindow } from './time-window';

/** The window of `sizeMs` holding `time`, aligned to the epoch: a time on a boundary starts the next window. */
export function tumblingWindowOf(time: number, sizeMs: number): TimeWindow {
  requirePositiveInteger('window size (ms)', sizeMs);
  const start = Math.floor(time / sizeMs) * sizeMs;
  return { start, end: start + sizeMs };
}
