/**
 * A binary min-heap of (due time, item): cep's timers of one partition, popped as its watermark passes them; the
 * notifier's deliveries owed to one target for one rule.
 */
export class DeadlineQueue<T> {
  private readonly due: number[] = [];
  private readonly items: T[] = [];

  get size(): number {
    return this.due.length;
  }

  push(due: number, item: T): void {
    this.due.push(due);
    this.items.push(item);
    let child = this.due.length - 1;
    while (child > 0) {
      const parent = (child - 1) >> 1;
      if (this.due[parent]! <= due) break;
      this.swap(child, parent);
      child = parent;
    }
  }

  /** The earliest item, left in place. */
  peek(): { due: number; item: T } | undefined {
    return this.due.length === 0 ? undefined : { due: this.due[0]!, item: this.items[0]! };
  }

  /** Removes and returns the earliest item due at or before `time`, if any. */
  popDue(time: number): { due: number; item: T } | undefined {
    if (this.due.length === 0 || this.due[0]! > time) return undefined;
    const popped = { due: this.due[0]!, item: this.items[0]! };
    const lastDue = this.due.pop()!;
    const lastItem = this.items.pop()!;
    if (this.due.length > 0) {
      this.due[0] = lastDue;
      this.items[0] = lastItem;
      this.sinkFromTop();
    }
    return popped;
  }

  private sinkFromTop(): void {
    let parent = 0;
    for (;;) {
      const left = parent * 2 + 1;
      const right = left + 1;
      let smallest = parent;
      if (left < this.due.length && this.due[left]! < this.due[smallest]!) smallest = left;
      if (right < this.due.length && this.due[right]! < this.due[smallest]!) smallest = right;
      if (smallest === parent) return;
      this.swap(parent, smallest);
      parent = smallest;
    }
  }

  private swap(a: number, b: number): void {
    [this.due[a], this.due[b]] = [this.due[b]!, this.due[a]!];
    [this.items[a], this.items[b]] = [this.items[b]!, this.items[a]!];
  }
}
