/** Half-open [start, end) in event time, ms since the epoch. */
export interface TimeWindow {
  start: number;
  end: number;
}
