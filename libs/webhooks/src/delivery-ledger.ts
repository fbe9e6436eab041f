import type { WebhookDeliveryDue, WebhookDeliveryRecord } from '@fleetlog/contracts';
import { DeadlineQueue } from '@fleetlog/scheduling';

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
  /**
   * The owed deliveries by target, then by rule, oldest due first, so handing out the next few costs what they are
   * and not the whole backlog (sorting every owed delivery at each free slot had a 4,400-alert storm drain at 300 a
   * second with the notifier's core busy sorting). Entries are left behind when their delivery leaves `owed`
   * (replaced, settled, restarted) and dropped when they reach the front.
   */
  private readonly queues = new Map<string, Map<string, DeadlineQueue<OwedDelivery>>>();

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
    else this.owe({ key, partition, offset, due: record });
  }

  /**
   * A delivery its writer has just committed, handed over instead of read back. The partition's reading can get
   * there first when the commit's answer is handled late; if it also attempted the delivery and read back the settled
   * record, nothing in the ledger says the delivery was made, and taking the hand-over would make it again. What was
   * read stands: a hand-over of a record the reading has passed changes nothing.
   */
  handOver(partition: number, offset: bigint, key: string, record: WebhookDeliveryRecord): void {
    const next = this.progress.get(partition)?.next;
    if (next !== undefined && offset < next) return;
    this.read(partition, offset, key, record);
  }

  /** After each fetched batch, markers-only batches included. */
  advance(partition: number, next: bigint, highWatermark: bigint): void {
    const progress = this.progress.get(partition) ?? { next: undefined, caughtUp: false };
    progress.next = next;
    progress.caughtUp ||= next >= highWatermark;
    this.progress.set(partition, progress);
  }

  /**
   * Hands out the deliveries due by `now` on caught-up partitions, with at most `maxInFlightPerTarget` per target
   * awaiting the target's answer; they stay in flight until `settle` or `release`. Within a target the rules take
   * turns, each oldest due first, counting the attempts each already has in flight: a storm of one rule (a fleet
   * whose vehicles all went offline at once: thousands of alerts in a second) then delays another rule's alert by one
   * turn, not by the whole storm.
   */
  takeDue(now: Date, maxInFlightPerTarget: number): OwedDelivery[] {
    const inFlightByTarget = new Map<string, number>();
    const turnsTaken = new Map<DeadlineQueue<OwedDelivery>, number>();
    for (const key of this.awaitingTarget) {
      const { due } = this.inFlight.get(key)!;
      increment(inFlightByTarget, due.targetId);
      const queue = this.queues.get(due.targetId)?.get(due.alert.ruleId);
      if (queue) increment(turnsTaken, queue);
    }
    const taken: OwedDelivery[] = [];
    for (const [targetId, queues] of this.queues) {
      let free = maxInFlightPerTarget - (inFlightByTarget.get(targetId) ?? 0);
      const waiting: Array<{ queue: DeadlineQueue<OwedDelivery>; due: number; delivery: OwedDelivery }> = [];
      while (free > 0) {
        let next: { queue: DeadlineQueue<OwedDelivery>; due: number; turn: number } | undefined;
        for (const queue of queues.values()) {
          const head = this.frontDue(queue, now.getTime(), waiting);
          const turn = turnsTaken.get(queue) ?? 0;
          if (head && (!next || turn < next.turn || (turn === next.turn && head.due < next.due)))
            next = { queue, due: head.due, turn };
        }
        if (!next) break;
        const delivery = next.queue.popDue(next.due)!.item;
        increment(turnsTaken, next.queue);
        free--;
        this.owed.delete(delivery.key);
        this.inFlight.set(delivery.key, delivery);
        this.awaitingTarget.add(delivery.key);
        taken.push(delivery);
      }
      for (const { queue, due, delivery } of waiting) queue.push(due, delivery);
      for (const [ruleId, queue] of queues) if (queue.size === 0) queues.delete(ruleId);
      if (queues.size === 0) this.queues.delete(targetId);
    }
    return taken;
  }

  /**
   * The queue's first delivery that can go now, if any: deliveries no longer owed are dropped on the way, and those
   * that must wait (their partition still being read, an earlier attempt of theirs in flight) are set aside in
   * `waiting`, to be put back.
   */
  private frontDue(
    queue: DeadlineQueue<OwedDelivery>,
    now: number,
    waiting: Array<{ queue: DeadlineQueue<OwedDelivery>; due: number; delivery: OwedDelivery }>,
  ): { due: number } | undefined {
    for (let front = queue.peek(); front && front.due <= now; front = queue.peek()) {
      const delivery = front.item;
      if (this.owed.get(delivery.key) !== delivery) {
        queue.popDue(front.due);
        continue;
      }
      if (this.inFlight.has(delivery.key) || this.progress.get(delivery.partition)?.caughtUp !== true) {
        queue.popDue(front.due);
        waiting.push({ queue, due: front.due, delivery });
        continue;
      }
      return front;
    }
    return undefined;
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
    if (!this.owed.has(delivery.key)) this.owe(delivery);
  }

  private owe(delivery: OwedDelivery): void {
    this.owed.set(delivery.key, delivery);
    const { targetId, alert } = delivery.due;
    let queues = this.queues.get(targetId);
    if (!queues) this.queues.set(targetId, (queues = new Map()));
    let queue = queues.get(alert.ruleId);
    if (!queue) queues.set(alert.ruleId, (queue = new DeadlineQueue()));
    queue.push(Date.parse(delivery.due.dueAt), delivery);
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

/** Adds one to the count of `key`; returns the count before. */
function increment<K>(counts: Map<K, number>, key: K): number {
  const before = counts.get(key) ?? 0;
  counts.set(key, before + 1);
  return before;
}
