import { ProgressSamples, partitionProgress, replayProgress } from './replay-progress';

describe('replay progress', () => {
  it('counts a partition from where the job started to its committed offset, the lag up to the log end', () => {
    expect(partitionProgress({ partition: 0, start: 100, committed: 250, end: 400 })).toMatchObject({
      done: 150,
      total: 300,
      lag: 150,
    });
  });

  it('puts a job that has not committed yet, or whose offsets lie before its start, at its start', () => {
    expect(partitionProgress({ partition: 0, start: 10, committed: undefined, end: 50 })).toMatchObject({
      done: 0,
      lag: 40,
    });
    expect(partitionProgress({ partition: 1, start: 10, committed: 3, end: 50 })).toMatchObject({
      done: 0,
      lag: 40,
    });
  });

  it('sums the partitions, in partition order, and measures the rate against an earlier sample', () => {
    const progress = replayProgress(
      [
        { partition: 1, start: 0, committed: 500, end: 1_000 },
        { partition: 0, start: 0, committed: 1_000, end: 1_500 },
      ],
      10_000,
      { at: 5_000, done: 1_000 },
      0,
    );
    expect(progress.partitions.map(({ partition }) => partition)).toEqual([0, 1]);
    expect(progress).toMatchObject({
      done: 1_500,
      total: 2_500,
      lag: 1_000,
      eventsPerSecond: 100,
      etaSeconds: 10,
    });
  });

  it('without an earlier sample, takes the average since the job was started', () => {
    const progress = replayProgress(
      [{ partition: 0, start: 0, committed: 600, end: 1_200 }],
      60_000,
      undefined,
      0,
    );
    expect(progress).toMatchObject({ eventsPerSecond: 10, etaSeconds: 60 });
  });

  it('has no ETA while nothing moves, and none needed once caught up', () => {
    const stalled = [{ partition: 0, start: 0, committed: 100, end: 200 }];
    expect(replayProgress(stalled, 10_000, { at: 5_000, done: 100 }, 0).etaSeconds).toBeNull();
    const caughtUp = [{ partition: 0, start: 0, committed: 200, end: 200 }];
    expect(replayProgress(caughtUp, 10_000, { at: 5_000, done: 200 }, 0).etaSeconds).toBe(0);
  });
});

describe('progress samples', () => {
  it('answers the oldest sample of the window that is at least the minimum span old', () => {
    const samples = new ProgressSamples(60_000, 2_000);
    expect(samples.take('v2', { at: 0, done: 0 })).toBeUndefined();
    expect(samples.take('v2', { at: 1_000, done: 10 })).toBeUndefined();
    expect(samples.take('v2', { at: 3_000, done: 30 })).toEqual({ at: 0, done: 0 });
    expect(samples.take('v2', { at: 70_000, done: 700 })).toBeUndefined();
    expect(samples.take('v2', { at: 73_000, done: 730 })).toEqual({ at: 70_000, done: 700 });
  });

  it('starts over when a job reads from scratch again, and keeps jobs apart', () => {
    const samples = new ProgressSamples(60_000, 2_000);
    samples.take('v2', { at: 0, done: 500 });
    samples.take('v3', { at: 0, done: 0 });
    expect(samples.take('v2', { at: 5_000, done: 20 })).toBeUndefined();
    expect(samples.take('v2', { at: 8_000, done: 50 })).toEqual({ at: 5_000, done: 20 });
    expect(samples.take('v3', { at: 5_000, done: 5 })).toEqual({ at: 0, done: 0 });
  });
});
