/** Where a job's consumer group stands in one partition of fleet.telemetry, as Kafka reports it. */
export interface PartitionOffsets {
  partition: number;
  /** Where the job started reading: the offset of its `from` time, or the log start. */
  start: number;
  /** The group's committed offset (the next record it will read); undefined before its first commit. */
  committed: number | undefined;
  /** The log end offset (the next record to be written). */
  end: number;
}

export interface PartitionProgress extends PartitionOffsets {
  done: number;
  total: number;
  /** end − committed: records still to read. */
  lag: number;
}

export interface ReplayProgress {
  partitions: PartitionProgress[];
  done: number;
  total: number;
  lag: number;
  eventsPerSecond: number;
  /** Seconds until the lag is read at the current rate; null when nothing moves yet. */
  etaSeconds: number | null;
}

/** What the job has read by a moment: two of them a few seconds apart give its rate. */
export interface ProgressSample {
  at: number;
  done: number;
}

export function partitionProgress(offsets: PartitionOffsets): PartitionProgress {
  // Before the first commit, and when offsets committed before `from` linger, the job is at its start.
  const position = Math.min(Math.max(offsets.committed ?? offsets.start, offsets.start), offsets.end);
  return {
    ...offsets,
    done: position - offsets.start,
    total: Math.max(offsets.end - offsets.start, 0),
    lag: offsets.end - position,
  };
}

/**
 * The job's progress over all partitions. The rate is measured between `earlier` (a sample kept from a previous
 * reading) and now; without one, it is the average since `since` (when the job was started or last changed).
 */
export function replayProgress(
  offsets: readonly PartitionOffsets[],
  now: number,
  earlier: ProgressSample | undefined,
  since: number,
): ReplayProgress {
  const partitions = [...offsets].sort((a, b) => a.partition - b.partition).map(partitionProgress);
  const done = sum(partitions.map((partition) => partition.done));
  const lag = sum(partitions.map((partition) => partition.lag));
  const reference = earlier ?? { at: since, done: 0 };
  const seconds = (now - reference.at) / 1000;
  const eventsPerSecond = seconds > 0 ? Math.max(done - reference.done, 0) / seconds : 0;
  return {
    partitions,
    done,
    total: sum(partitions.map((partition) => partition.total)),
    lag,
    eventsPerSecond: Math.round(eventsPerSecond * 10) / 10,
    etaSeconds: lag === 0 ? 0 : eventsPerSecond > 0 ? Math.ceil(lag / eventsPerSecond) : null,
  };
}

/**
 * Recent samples of each job's progress, kept in memory: the rate is taken over the span from the oldest sample
 * still within `windowMs` (and at least `minSpanMs` old, so two readings in quick succession do not make noise).
 */
export class ProgressSamples {
  private readonly samples = new Map<string, ProgressSample[]>();

  constructor(
    private readonly windowMs = 60_000,
    private readonly minSpanMs = 2_000,
  ) {}

  /** The sample to measure the rate against, if any, then records `sample`. */
  take(job: string, sample: ProgressSample): ProgressSample | undefined {
    const kept = (this.samples.get(job) ?? []).filter((earlier) => sample.at - earlier.at <= this.windowMs);
    const reference = kept.find((earlier) => sample.at - earlier.at >= this.minSpanMs);
    // A job read again from scratch (its group deleted, its version reused) starts a new series.
    const series = kept.length > 0 && kept[kept.length - 1]!.done > sample.done ? [] : kept;
    this.samples.set(job, [...series, sample]);
    return reference && reference.done <= sample.done ? reference : undefined;
  }

  forget(job: string): void {
    this.samples.delete(job);
  }
}

function sum(values: number[]): number {
  return values.reduce((total, value) => total + value, 0);
}
