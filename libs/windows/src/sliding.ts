import { requirePositiveInteger } from './positive-integer';
import { windowFunctions, type WindowFunction } from './window-function';

/**
 * Where each pane slot keeps what the requested functions need, as offsets from the slot's start; -1 where nothing
 * needs the column. first is a value followed by its event time. last is kept once for the whole window, not per
 * pane: the newest event is the last in every range that holds its pane (see `SlidingWindow.value`).
 */
interface Layout {
  readonly paneMs: number;
  readonly panes: number;
  readonly functions: ReadonlySet<WindowFunction>;
  readonly stride: number;
  /** Whether the window keeps its newest event (value, then event time) after the newest pane index. */
  readonly keepsLast: boolean;
  /** Where the ring of panes starts, after the newest pane index and the newest event if kept. */
  readonly ringAt: number;
  /**
   * The column that tells an empty pane, and what it holds then: the count where a function needs one, else a column
   * whose empty value no event can leave there (events are finite): min's +∞, max's −∞, first's time +∞. A window
   * for min, max, first or delta alone so keeps no count, and one for last alone no panes at all (stride 0).
   */
  readonly emptyAt: number;
  readonly emptyValue: number;
  readonly countAt: number;
  readonly sumAt: number;
  readonly m2At: number;
  readonly minAt: number;
  readonly maxAt: number;
  readonly firstAt: number;
}

/** Shared by every window of one configuration, so a vehicle's window holds nothing but its array and a reference. */
const layouts = new Map<string, Layout>();

function layoutFor(paneMs: number, panes: number, requested: readonly WindowFunction[]): Layout {
  const functions = windowFunctions.filter((fn) => requested.includes(fn));
  const key = `${paneMs}/${panes}/${functions.join()}`;
  const known = layouts.get(key);
  if (known) return known;
  if (functions.length === 0)
    throw new RangeError('a window needs at least one function to keep columns for');
  const needs = (...users: WindowFunction[]) => users.some((fn) => functions.includes(fn));
  let stride = 0;
  const column = (needed: boolean, width = 1) => {
    if (!needed) return -1;
    stride += width;
    return stride - width;
  };
  const columns = {
    countAt: column(needs('count', 'sum', 'avg', 'stddev')),
    sumAt: column(needs('sum', 'avg', 'stddev')),
    m2At: column(needs('stddev')),
    minAt: column(needs('min')),
    maxAt: column(needs('max')),
    firstAt: column(needs('first', 'delta'), 2),
  };
  const keepsLast = needs('last', 'delta');
  const [emptyAt, emptyValue] =
    columns.countAt >= 0
      ? [columns.countAt, 0]
      : columns.minAt >= 0
        ? [columns.minAt, Infinity]
        : columns.maxAt >= 0
          ? [columns.maxAt, -Infinity]
          : [columns.firstAt + 1, Infinity];
  const layout: Layout = {
    paneMs,
    panes,
    functions: new Set(functions),
    ...columns,
    keepsLast,
    ringAt: keepsLast ? 3 : 1,
    emptyAt,
    emptyValue,
    stride,
  };
  layouts.set(key, layout);
  return layout;
}

/** Where in a shared array of doubles (see `doubleArray`) a window keeps its numbers. */
export interface WindowStorage {
  buffer: number[];
  offset: number;
}

/**
 * An array of `length` copies of `value` that V8 keeps as unboxed doubles, as in a Float64Array: 8 bytes a number
 * and about 50 bytes for the array, where a typed array costs about 250 bytes of bookkeeping whatever its length.
 * Writing anything but numbers into it would undo that.
 */
export function doubleArray(length: number, value: number): number[] {
  // Sized up front, so with room for exactly `length` (grown by pushes it would keep spare room); the NaN fill turns
  // its element kind to doubles.
  return new Array<number>(length).fill(Number.NaN).fill(value);
}

/** Copies `length` numbers between double arrays (see `doubleArray`), element by element so their kind stays. */
export function copyNumbers(
  from: readonly number[],
  fromStart: number,
  to: number[],
  toStart: number,
  length: number,
): void {
  for (let index = 0; index < length; index++) to[toStart + index] = from[fromStart + index]!;
}

function paneMsOf(sizeMs: number, panes: number): number {
  requirePositiveInteger('window size (ms)', sizeMs);
  requirePositiveInteger('pane count', panes);
  const paneMs = sizeMs / panes;
  if (!Number.isInteger(paneMs)) {
    throw new RangeError(`a ${sizeMs} ms window does not divide into ${panes} panes of whole milliseconds`);
  }
  return paneMs;
}

/** The window object itself on 64-bit V8 without pointer compression (Node's default): a header and two fields. */
const objectBytes = 40;
const bytesPerNumber = 8;

/**
 * One vehicle's sliding window over one signal, answering e.g. "avg speedKph over the last 5m" at every message in
 * constant time and bounded memory. Time is cut into panes of paneMs = sizeMs / panes; a ring of `panes` slots in a
 * single array of doubles keeps, per pane, only the columns the requested functions need: a count for count, sum,
 * avg and stddev (the other functions tell an empty pane by their own column, see `Layout.emptyAt`); a sum for
 * sum, avg and stddev (a sum rather than mean × count, so that sums of whole numbers are exact); M2 for stddev, the
 * pane mean being sum / count; min; max; first with its event time. Before the ring, one number holds the index of
 * the newest pane seen, which bounds what the ring can take (see add), and for last and delta two more the newest
 * event and its time: the last event of every range that holds its pane, so not kept per pane.
 *
 * value(fn, now) aggregates the panes paneOf(now) − panes + 1 to paneOf(now), paneOf(t) being floor(t / paneMs):
 * the events with time in [end − sizeMs, end), end being where now's pane ends. That takes in every event in
 * [now − sizeMs + paneMs, now], none at or before now − sizeMs, those in between only if their pane is in range, and
 * also any events after now in now's pane. So the window edge is exact to one pane: the history covered is between
 * sizeMs − paneMs and sizeMs long. A now before the newest pane answers for its own range without the newer panes,
 * but only from what the ring still holds: panes more than `panes` − 1 older than the newest are gone; and last and
 * delta have no answer then (cep reads windows at the newest in-order event, never before it: keeping each pane's
 * last for such reads would cost two numbers a pane).
 */
export class SlidingWindow {
  private readonly layout: Layout;
  /**
   * From `base`: [newest pane index, then `panes` slots of `stride` columns], the slot of pane p being p mod panes.
   * Its own array, or a stretch of one the caller shares between several windows (one array per vehicle rather
   * than one per window), which `over` can exchange for another laid out the same way.
   */
  private data: number[];
  private readonly base: number;
  private readonly end: number;

  /** How many numbers a window of this configuration keeps: the room to give it in shared storage. */
  static lengthFor(sizeMs: number, functions: readonly WindowFunction[], panes = 10): number {
    const layout = layoutFor(paneMsOf(sizeMs, panes), panes, functions);
    return layout.ringAt + panes * layout.stride;
  }

  constructor(sizeMs: number, functions: readonly WindowFunction[], panes = 10, storage?: WindowStorage) {
    this.layout = layoutFor(paneMsOf(sizeMs, panes), panes, functions);
    const length = this.layout.ringAt + panes * this.layout.stride;
    if (
      storage &&
      (!Number.isInteger(storage.offset) ||
        storage.offset < 0 ||
        storage.offset + length > storage.buffer.length)
    ) {
      throw new RangeError(`the storage has no room for ${length} numbers at ${storage.offset}`);
    }
    this.data = storage?.buffer ?? doubleArray(length, 0);
    this.base = storage?.offset ?? 0;
    this.end = this.base + length;
    this.data[this.base] = -Infinity;
    if (this.layout.keepsLast) {
      this.data[this.base + 1] = Number.NaN;
      this.data[this.base + 2] = -Infinity;
    }
  }

  /**
   * Points this window at the same stretch of another array, as shared storage is laid out for every vehicle: one
   * window object then serves each vehicle's numbers in turn, and a vehicle keeps nothing but its array.
   */
  over(buffer: number[]): this {
    if (buffer.length < this.end) {
      throw new RangeError(`the storage has no room for the numbers at ${this.base} to ${this.end}`);
    }
    this.data = buffer;
    return this;
  }

  /**
   * False, changing nothing, for a time or value that is not a finite number, or for a time too late for the ring:
   * in a pane at least `panes` older than the newest pane seen.
   */
  add(time: number, value: number): boolean {
    if (!Number.isFinite(time) || !Number.isFinite(value)) return false;
    const { data } = this;
    const pane = Math.floor(time / this.layout.paneMs);
    const newest = data[this.base];
    if (pane <= newest - this.layout.panes) return false;
    const { layout } = this;
    if (pane > newest) {
      // Empty the slots of the panes entering the ring once here, rather than check every slot's pane on each read.
      if (layout.stride > 0) {
        for (let entering = Math.max(newest + 1, pane - layout.panes + 1); entering <= pane; entering++) {
          data[this.slotOf(entering) + layout.emptyAt] = layout.emptyValue;
        }
      }
      data[this.base] = pane;
    }
    if (layout.stride > 0) {
      const slot = this.slotOf(pane);
      if (this.isEmpty(slot)) this.startPane(slot, time, value);
      else this.extendPane(slot, time, value);
    }
    // An equal time goes to the later add, as in Aggregate.
    if (layout.keepsLast && time >= data[this.base + 2]!) {
      data[this.base + 1] = value;
      data[this.base + 2] = time;
    }
    return true;
  }

  /** Over the panes described in the class comment. Throws for a function the window was not built with. */
  value(fn: WindowFunction, now: number): number | undefined {
    const { layout } = this;
    if (!layout.functions.has(fn)) {
      throw new Error(`this window was built for ${[...layout.functions].join(', ')}, not ${fn}`);
    }
    const nowPane = Math.floor(now / layout.paneMs);
    const newest = this.data[this.base];
    const from = Math.max(nowPane, newest) - layout.panes + 1;
    const to = Math.min(nowPane, newest);
    switch (fn) {
      case 'count':
        return this.total(layout.countAt, from, to);
      case 'sum':
        return this.total(layout.sumAt, from, to);
      case 'avg': {
        const count = this.total(layout.countAt, from, to);
        return count === 0 ? undefined : this.total(layout.sumAt, from, to) / count;
      }
      case 'min':
        return this.extreme(layout.minAt, Math.min, from, to);
      case 'max':
        return this.extreme(layout.maxAt, Math.max, from, to);
      case 'first':
        return this.earliest(layout.firstAt, from, to);
      case 'last':
        return this.last(newest, from, to);
      case 'delta': {
        const last = this.last(newest, from, to);
        return last === undefined ? undefined : last - this.earliest(layout.firstAt, from, to)!;
      }
      case 'stddev':
        return this.stddev(from, to);
    }
  }

  /** The numbers this window keeps and this object; not the engine's bookkeeping for an array of its own. */
  stateBytes(): number {
    return (this.end - this.base) * bytesPerNumber + objectBytes;
  }

  private isEmpty(slot: number): boolean {
    return this.data[slot + this.layout.emptyAt] === this.layout.emptyValue;
  }

  private slotOf(pane: number): number {
    const { panes } = this.layout;
    return this.base + this.layout.ringAt + (((pane % panes) + panes) % panes) * this.layout.stride;
  }

  /** The slot of the pane after the one in `slot`: cheaper than slotOf when walking the ring. */
  private nextSlot(slot: number): number {
    const next = slot + this.layout.stride;
    return next < this.end ? next : this.base + this.layout.ringAt;
  }

  private startPane(slot: number, time: number, value: number): void {
    const { data, layout } = this;
    if (layout.countAt >= 0) data[slot + layout.countAt] = 1;
    if (layout.sumAt >= 0) data[slot + layout.sumAt] = value;
    if (layout.m2At >= 0) data[slot + layout.m2At] = 0;
    if (layout.minAt >= 0) data[slot + layout.minAt] = value;
    if (layout.maxAt >= 0) data[slot + layout.maxAt] = value;
    if (layout.firstAt >= 0) {
      data[slot + layout.firstAt] = value;
      data[slot + layout.firstAt + 1] = time;
    }
  }

  private extendPane(slot: number, time: number, value: number): void {
    const { data, layout } = this;
    if (layout.countAt >= 0) {
      const count = data[slot + layout.countAt] + 1;
      data[slot + layout.countAt] = count;
      if (layout.sumAt >= 0) {
        const sum = data[slot + layout.sumAt];
        if (layout.m2At >= 0) {
          // Welford's update, the pane mean being sum / count.
          data[slot + layout.m2At] += (value - sum / (count - 1)) * (value - (sum + value) / count);
        }
        data[slot + layout.sumAt] = sum + value;
      }
    }
    if (layout.minAt >= 0 && value < data[slot + layout.minAt]) data[slot + layout.minAt] = value;
    if (layout.maxAt >= 0 && value > data[slot + layout.maxAt]) data[slot + layout.maxAt] = value;
    if (layout.firstAt >= 0 && time < data[slot + layout.firstAt + 1]) {
      data[slot + layout.firstAt] = value;
      data[slot + layout.firstAt + 1] = time;
    }
  }

  private total(column: number, from: number, to: number): number {
    let total = 0;
    for (let pane = from, slot = this.slotOf(from); pane <= to; pane++, slot = this.nextSlot(slot)) {
      if (!this.isEmpty(slot)) total += this.data[slot + column];
    }
    return total;
  }

  private extreme(column: number, pick: typeof Math.min, from: number, to: number): number | undefined {
    let extreme: number | undefined;
    for (let pane = from, slot = this.slotOf(from); pane <= to; pane++, slot = this.nextSlot(slot)) {
      if (this.isEmpty(slot)) continue;
      const candidate = this.data[slot + column];
      extreme = extreme === undefined ? candidate : pick(extreme, candidate);
    }
    return extreme;
  }

  // Panes hold disjoint spans of event time: the earliest pane with events has the first event, the latest the last.

  private earliest(column: number, from: number, to: number): number | undefined {
    for (let pane = from, slot = this.slotOf(from); pane <= to; pane++, slot = this.nextSlot(slot)) {
      if (!this.isEmpty(slot)) return this.data[slot + column];
    }
    return undefined;
  }

  /**
   * The newest event is the last of any range holding the newest pane: after it there is nothing. A range that ends
   * before the newest pane (a now earlier than the newest event's pane) would need every pane's last, which the
   * window does not keep: it has none.
   */
  private last(newest: number, from: number, to: number): number | undefined {
    return newest >= from && newest <= to ? this.data[this.base + 1] : undefined;
  }

  /** Panes merged with Chan et al.'s formula for M2. */
  private stddev(from: number, to: number): number | undefined {
    const { data, layout } = this;
    let count = 0;
    let mean = 0;
    let m2 = 0;
    for (let pane = from, slot = this.slotOf(from); pane <= to; pane++, slot = this.nextSlot(slot)) {
      const paneCount = data[slot + layout.countAt];
      if (paneCount === 0) continue;
      const meanGap = data[slot + layout.sumAt] / paneCount - mean;
      const merged = count + paneCount;
      m2 += data[slot + layout.m2At] + ((meanGap * meanGap * count) / merged) * paneCount;
      mean += (meanGap * paneCount) / merged;
      count = merged;
    }
    return count === 0 ? undefined : Math.sqrt(Math.max(0, m2) / count);
  }
}
