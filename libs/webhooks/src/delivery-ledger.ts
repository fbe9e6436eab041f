import type { WebhookDeliveryDue, WebhookDeliveryRecord } from '@fleetlog/contracts';

/** A delivery owed, as read from fleet.webhooks.retry: the latest `due` record of its key. */
export interface OwedDelivery {
  key: string;
  partition: number;
  offset: bigint;
  due: WebhookDeliveryDue;
}

interface PartitionProgress {
  /** The offset after the last record read (markers included); undefined until the first batch. */
  next: bigint | undefined;
  /** Read up to the end of the log as it was when reading (re)started: only then is the latest record known. */
  caughtUp: boolean;
}

/**
 * The deliveries owed by this notifier, rebuilt from fleet.webhooks.retry: the topic is the state. The latest
 * record of a key wins (a later `due` replaces an earlier one, `settled` ends the delivery), so re-reading the topic
 * after a crash yields exactly what was still owed. An attempt's follow-up record (next `due`, `settled`) is
 * produced before the delivery leaves the ledger, and the committed offset never passes a delivery still owed or in
 * flight: a crash can repeat an attempt whose outcome was not yet recorded (at-least-once), never lose one.
 */
export class DeliveryLedger {
  private readonly owed = new Map<string, OwedDelivery>();
  private readonly inFlight = new Map<string, OwedDelivery>();
  /**
   * Keys of deliveries in flight whose request the target has not answered yet: what its limit counts. Once it has
   * answered, storing the outcome loads only Kafka, and a slow acknowledgement must not hold the target's next
   * request back.
   */
  private readonly awaitingTarget = new Set<string>();
  /** Follow-ups produced but not read back yet: records of the key below that offset are stale. */
  private readonly staleBelow = new Map<string, { partition: number; offset: bigint }>();
  private readonly progress = new Map<number, PartitionProgress>();

  /** Deliveries owed or in flight: the retry queue's depth. */
  get size(): number {
    return this.owed.size + this.inFlight.size;
  }

  /**
   * The partition is (re)read from its committed offset: forget what was read of it, except attempts in flight,
   * whose follow-ups make the re-read records stale.
   */
  restart(partition: number): void {
    this.progress.set(partition, { next: undefined, caughtUp: false });
    for (const [key, delivery] of this.owed) if (delivery.partition === partition) this.owed.delete(key);
  }

  /** Another notifier owns the partition now. */
  revoke(partition: number): void {
    this.restart(partition);
    this.progress.delete(partition);
    for (const [key, stale] of this.staleBelow)
      if (stale.partition === partition) this.staleBelow.delete(key);
  }

  read(partition: number, offset: bigint, key: string, record: WebhookDeliveryRecord): void {
    const stale = this.staleBelow.get(key);
    if (stale && offset < stale.offset) return;
    this.staleBelow.delete(key);
    const inFlight = this.inFlight.get(key);
    if (inFlight && offset <= inFlight.offset) return;
    if (record.kind === 'settled') this.owed.delete(key);
    else this.owed.set(key, { key, partition, offset, due: record });
  }

  /** After each fetched batch, markers-only batches included. */
  advance(partition: number, next: bigint, highWatermark: bigint): void {
    const progress = this.progress.get(partition) ?? { next: undefined, caughtUp: false };
    progress.next = next;
    progress.caughtUp ||= next >= highWatermark;
    this.progress.set(partition, progress);
  }

  /**
   * Hands out the deliveries due by `now` on caught-up partitions, oldest due first, with at most
   * `maxInFlightPerTarget` per target awaiting the target's answer; they stay in flight until `settle` or `release`.
   */
  takeDue(now: Date, maxInFlightPerTarget: number): OwedDelivery[] {
    const inFlightByTarget = new Map<string, number>();
    for (const key of this.awaitingTarget) {
      const { targetId } = this.inFlight.get(key)!.due;
      inFlightByTarget.set(targetId, (inFlightByTarget.get(targetId) ?? 0) + 1);
    }
    // Called several times a second with thousands owed after an outage: one pass, each due time parsed once, and
    // nothing sorted for targets already at their limit (sorting them all had the notifier spend a core on it).
    const due: Array<{ dueAt: number; delivery: OwedDelivery }> = [];
    for (const delivery of this.owed.values()) {
      if ((inFlightByTarget.get(delivery.due.targetId) ?? 0) >= maxInFlightPerTarget) continue;
      if (this.inFlight.has(delivery.key) || this.progress.get(delivery.partition)?.caughtUp !== true)
        continue;
      const dueAt = Date.parse(delivery.due.dueAt);
      if (dueAt <= now.getTime()) due.push({ dueAt, delivery });
    }
    due.sort((a, b) => a.dueAt - b.dueAt);
    const taken: OwedDelivery[] = [];
    for (const { delivery } of due) {
      const targetInFlight = inFlightByTarget.get(delivery.due.targetId) ?? 0;
      if (targetInFlight >= maxInFlightPerTarget) continue;
      inFlightByTarget.set(delivery.due.targetId, targetInFlight + 1);
      this.owed.delete(delivery.key);
      this.inFlight.set(delivery.key, delivery);
      this.awaitingTarget.add(delivery.key);
      taken.push(delivery);
    }
    return taken;
  }

  /** The target answered the attempt (or it ended without a request): its next delivery may start. */
  answered(delivery: OwedDelivery): void {
    this.awaitingTarget.delete(delivery.key);
  }

  /** The attempt's follow-up record is stored at `followUpOffset`: the delivery's older records are stale. */
  settle(delivery: OwedDelivery, followUpOffset: bigint): void {
    this.inFlight.delete(delivery.key);
    this.awaitingTarget.delete(delivery.key);
    this.staleBelow.set(delivery.key, { partition: delivery.partition, offset: followUpOffset });
  }

  /** The follow-up could not be stored: the delivery is owed again as it was. */
  release(delivery: OwedDelivery): void {
    this.inFlight.delete(delivery.key);
    this.awaitingTarget.delete(delivery.key);
    if (!this.owed.has(delivery.key)) this.owed.set(delivery.key, delivery);
  }

  /**
   * Per partition read so far, the offset a restart must read from: the oldest delivery still owed or in flight,
   * else everything read.
   */
  commitOffsets(): Map<number, bigint> {
    const offsets = new Map<number, bigint>();
    for (const [partition, { next }] of this.progress) if (next !== undefined) offsets.set(partition, next);
    for (const { partition, offset } of [...this.owed.values(), ...this.inFlight.values()]) {
      const current = offsets.get(partition);
      if (current !== undefined && offset < current) offsets.set(partition, offset);
    }
    return offsets;
  }
}
