import type { WindowFunction } from './window-function';

/**
 * Every window function over a set of (event time, value) pairs in constant space, for windows that are emitted
 * whole (tumbling, hopping, session). Mean and M2 follow Welford, and merge follows Chan et al., rather than a sum of
 * squares, whose cancellation ruins the standard deviation of large values with a small spread, such as odometers.
 * Values arriving out of order are fine: first and last go by event time, an equal time going to the later add.
 */
export class Aggregate {
  private n = 0;
  private total = 0;
  private runningMean = 0;
  private m2 = 0;
  private lowest = Infinity;
  private highest = -Infinity;
  private earliestValue = 0;
  private earliestTime = Infinity;
  private latestValue = 0;
  private latestTime = -Infinity;

  /** False, changing nothing, for a time or value that is not a finite number. */
  add(time: number, value: number): boolean {
    if (!Number.isFinite(time) || !Number.isFinite(value)) return false;
    this.n += 1;
    this.total += value;
    const deviation = value - this.runningMean;
    this.runningMean += deviation / this.n;
    this.m2 += deviation * (value - this.runningMean);
    if (value < this.lowest) this.lowest = value;
    if (value > this.highest) this.highest = value;
    if (time < this.earliestTime) {
      this.earliestTime = time;
      this.earliestValue = value;
    }
    if (time >= this.latestTime) {
      this.latestTime = time;
      this.latestValue = value;
    }
    return true;
  }

  /** Folds `other` in as if its values had been added here after this one's. */
  merge(other: Aggregate): this {
    if (other.n === 0) return this;
    const n = this.n + other.n;
    const meanGap = other.runningMean - this.runningMean;
    this.m2 += other.m2 + ((meanGap * meanGap * this.n) / n) * other.n;
    this.runningMean += (meanGap * other.n) / n;
    this.n = n;
    this.total += other.total;
    if (other.lowest < this.lowest) this.lowest = other.lowest;
    if (other.highest > this.highest) this.highest = other.highest;
    if (other.earliestTime < this.earliestTime) {
      this.earliestTime = other.earliestTime;
      this.earliestValue = other.earliestValue;
    }
    if (other.latestTime >= this.latestTime) {
      this.latestTime = other.latestTime;
      this.latestValue = other.latestValue;
    }
    return this;
  }

  value(fn: WindowFunction): number | undefined {
    switch (fn) {
      case 'count':
        return this.n;
      case 'sum':
        return this.total;
      case 'avg':
        return this.mean;
      case 'min':
        return this.min;
      case 'max':
        return this.max;
      case 'first':
        return this.first;
      case 'last':
        return this.last;
      case 'stddev':
        return this.stddev;
      case 'delta':
        return this.n === 0 ? undefined : this.latestValue - this.earliestValue;
    }
  }

  get count(): number {
    return this.n;
  }
  get sum(): number {
    return this.total;
  }
  get mean(): number | undefined {
    return this.n === 0 ? undefined : this.runningMean;
  }
  /** Population standard deviation. */
  get stddev(): number | undefined {
    return this.n === 0 ? undefined : Math.sqrt(Math.max(0, this.m2) / this.n);
  }
  get min(): number | undefined {
    return this.n === 0 ? undefined : this.lowest;
  }
  get max(): number | undefined {
    return this.n === 0 ? undefined : this.highest;
  }
  get first(): number | undefined {
    return this.n === 0 ? undefined : this.earliestValue;
  }
  get firstTime(): number | undefined {
    return this.n === 0 ? undefined : this.earliestTime;
  }
  get last(): number | undefined {
    return this.n === 0 ? undefined : this.latestValue;
  }
  get lastTime(): number | undefined {
    return this.n === 0 ? undefined : this.latestTime;
  }

  /** Getters are not own properties, so JSON.stringify would otherwise write `{}`. */
  toJSON() {
    return {
      count: this.count,
      sum: this.sum,
      avg: this.mean,
      min: this.min,
      max: this.max,
      stddev: this.stddev,
      first: this.first,
      firstTime: this.firstTime,
      last: this.last,
      lastTime: this.lastTime,
      delta: this.value('delta'),
    };
  }
}
