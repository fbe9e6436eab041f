import { requirePositiveInteger } from './positive-integer';
import type { TimeWindow } from './time-window';

/** Every window of `sizeMs` starting at a multiple of `hopMs` that holds `time`, oldest first. */
export function hoppingWindowsOf(time: number, sizeMs: number, hopMs: number): TimeWindow[] {
  requirePositiveInteger('window size (ms)', sizeMs);
  requirePositiveInteger('hop (ms)', hopMs);
  // Otherwise a time would belong to a varying number of windows and windows would not line up with hops.
  if (sizeMs % hopMs !== 0) {
    throw new RangeError(
      `window size must be a multiple of the hop: ${sizeMs} ms is not a multiple of ${hopMs} ms`,
    );
  }
  const newestStart = Math.floor(time / hopMs) * hopMs;
  const windows: TimeWindow[] = [];
  for (let start = newestStart - sizeMs + hopMs; start <= newestStart; start += hopMs) {
    windows.push({ start, end: start + sizeMs });
  }
  return windows;
}
