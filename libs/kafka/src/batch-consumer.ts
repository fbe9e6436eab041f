import type {
  Admin,
  Consumer,
  ConsumerGroupJoinEvent,
  EachBatchPayload,
  Kafka,
  KafkaMessage,
  Producer,
} from 'kafkajs';
import { backoffDelay, sleep } from '@fleetlog/resilience';
import { inRunsOfAtMost, maxProduceRequestBytes } from './produce-size';
import { offsetsInRequest, type RecordPosition } from './record-positions';
import { RenewableProducer } from './renewable-producer';

export interface ConsumedRecord {
  topic: string;
  partition: number;
  offset: string;
  key: string | undefined;
  value: Buffer;
}

/** A record a handler wants written to Kafka atomically with the batch's offset commit. */
export interface OutboundRecord {
  topic: string;
  key: string;
  value: string;
  /** Placed by the handler (see `partitionOfKey`), for `onCommitted` to learn its offset. */
  partition?: number;
}

/**
 * `records`: what one fetch brought, from one or several partitions, in log order within each partition.
 * `heartbeat` keeps the group membership alive during long work (slow sinks, webhook retries). Returned records
 * are produced in the same Kafka transaction as the offset commit (needs `transactionalProducer`).
 */
export type BatchHandler = (
  records: ConsumedRecord[],
  heartbeat: () => Promise<void>,
) => Promise<OutboundRecord[] | void>;

export interface TopicPartition {
  topic: string;
  partition: number;
}

/**
 * For a stateful consumer (cep): state per partition that moves with the partition when the group rebalances or
 * a member restarts, rebuilt from the log and described by the metadata committed with each offset.
 */
export interface PartitionStateHooks {
  /**
   * This member now owns the partition; `offset`/`metadata` are what was last committed for it (offset undefined
   * if nothing). Returns an offset below the committed one to re-read from first, or undefined.
   */
  assigned(
    partition: TopicPartition,
    offset: string | undefined,
    metadata: string | null,
  ): string | undefined;
  revoked(partition: TopicPartition): void;
  /** The metadata to commit with the partition's next offset commit. */
  checkpoint(partition: TopicPartition): string | undefined;
}

export interface BatchConsumerOptions {
  groupId: string;
  topics: string[];
  fromBeginning: boolean;
  /** How long the broker may hold a fetch waiting for data; kafkajs' default of 5 s is latency we do not want. */
  maxWaitTimeInMs: number;
  /** The most a fetch takes from one partition, and so the largest batch (kafkajs' default: 1 MiB). */
  maxBytesPerPartition?: number;
  partitionState?: PartitionStateHooks;
  /**
   * Makes the producer whose transactions commit offsets together with what the handler returns: a crash between
   * producing and committing then leaves neither visible (read_committed consumers), so nothing is produced twice.
   * Its transactional id must be stable across restarts of the instance (see createTransactionalProducer).
   */
  transactionalProducer?: () => Producer;
  /**
   * Called once a transaction has committed, with its outbound records that named their partition, each with its
   * offset: they are now visible to read_committed consumers, so work waiting for them can start without reading
   * them back.
   */
  onCommitted?: (records: Array<OutboundRecord & RecordPosition>) => void;
  /**
   * The consumer will not go on by itself: kafkajs stopped it and will not restart it, or a batch or `exclusive`
   * work has run longer than `maxStallMs` (a call that never returns). The process should end, for its supervisor
   * to start it again from the committed offsets; staying up would look healthy and read nothing.
   */
  onStuck?: (reason: Error) => void;
  /** How long one batch or piece of `exclusive` work may run before `onStuck` (default 10 minutes). */
  maxStallMs?: number;
}

interface OwnedPartition extends TopicPartition {
  /** Resolves once the committed offset is known and any rebuild seek is registered. */
  ready: Promise<void>;
  /** Offset committed when this member took the partition over: re-read records below it are never committed. */
  committedAtAssignment: bigint;
  lastCommitted: bigint | undefined;
  /** A rebuild seek was asked for: drop fetched batches until one comes from it. */
  awaitingSeek: boolean;
  /** The batch just fetched was dropped for the seek: its end says nothing of what has been read. */
  droppedBatch: boolean;
  caughtUp: boolean;
  /** The next offset to read: past the last record handled, or the last transaction marker fetched. */
  readUpTo: bigint;
}

/**
 * A kafkajs consumer driven fetch by fetch, committing the offsets of a fetch's batches only after the handler has
 * finished with every record in them (sinks confirmed). A handler that throws makes kafkajs fetch them again:
 * at-least-once. Fetches and `exclusive` work run one at a time, so offset commits never go backwards.
 */
export class BatchConsumer {
  private readonly consumer: Consumer;
  private readonly admin: Admin | undefined;
  private readonly owned = new Map<string, OwnedPartition>();
  private joined = false;
  /** Set once `stop` is called: a takeover still under way must not seek on a consumer that has left. */
  private stopping = false;
  private queue: Promise<unknown> = Promise.resolve();
  /** Batches of the fetch being handed over, handled together once all have arrived (see `gather`). */
  private gathered: GatheredBatch[] = [];
  private readonly producer: RenewableProducer | undefined;

  constructor(
    kafka: Kafka,
    private readonly options: BatchConsumerOptions,
  ) {
    this.consumer = kafka.consumer({
      groupId: options.groupId,
      maxWaitTimeInMs: options.maxWaitTimeInMs,
      ...(options.maxBytesPerPartition !== undefined && {
        maxBytesPerPartition: options.maxBytesPerPartition,
      }),
      retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 300, maxRetryTime: 10_000 },
    });
    this.admin = options.partitionState ? kafka.admin() : undefined;
    this.producer = options.transactionalProducer && new RenewableProducer(options.transactionalProducer);
    this.consumer.on(this.consumer.events.GROUP_JOIN, (event) => this.onGroupJoin(event));
    this.consumer.on(this.consumer.events.CRASH, ({ payload }) => {
      this.forgetPartitions();
      if (!payload.restart && !this.stopping)
        this.options.onStuck?.(new Error(`consumer stopped for good: ${payload.error.message}`));
    });
    this.consumer.on(this.consumer.events.STOP, () => (this.joined = false));
    // A fetch that brings only a transaction's commit marker (the end of a transactional writer's records) never
    // reaches eachBatch; without this a partition whose log ends with one would never count as caught up.
    this.consumer.on(this.consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      const owned = this.owned.get(keyOf(payload));
      if (owned?.droppedBatch) {
        // Else a clock tick before the rebuild's batch would find the partition read to its end (cep then advanced
        // its event time past the records still to be rebuilt, and took them all for late).
        owned.droppedBatch = false;
        return;
      }
      if (owned && !owned.awaitingSeek && BigInt(payload.lastOffset) + 1n >= BigInt(payload.highWatermark)) {
        owned.caughtUp = true;
        owned.readUpTo = BigInt(payload.lastOffset) + 1n;
      }
    });
  }

  /** Ready means: member of the consumer group and fetching. */
  get ready(): boolean {
    return this.joined;
  }

  /** Owned partitions whose latest fetched batch reached the end of the log. */
  get ownedPartitions(): TopicPartition[] {
    return [...this.owned.values()].map(({ topic, partition }) => ({ topic, partition }));
  }

  /**
   * Owned partitions with nothing left to read, asked of the broker: a batch's own high watermark is as old as its
   * fetch, and after a batch that waited minutes for Elasticsearch it says "caught up" while minutes of records
   * wait behind it (a clock advanced over them would take them all for late). Empty when the broker does not answer.
   */
  async idlePartitions(): Promise<TopicPartition[]> {
    const candidates = [...this.owned.values()].filter((owned) => owned.caughtUp);
    if (candidates.length === 0 || !this.admin) return [];
    const idle: TopicPartition[] = [];
    try {
      for (const topic of new Set(candidates.map((owned) => owned.topic))) {
        const ends = new Map(
          (await this.admin.fetchTopicOffsets(topic)).map(({ partition, high }) => [partition, BigInt(high)]),
        );
        for (const owned of candidates.filter((candidate) => candidate.topic === topic)) {
          if ((ends.get(owned.partition) ?? 0n) <= owned.readUpTo)
            idle.push({ topic, partition: owned.partition });
        }
      }
    } catch {
      return [];
    }
    return idle;
  }

  async start(handle: BatchHandler): Promise<void> {
    await this.producer?.connect();
    await this.admin?.connect();
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: this.options.topics, fromBeginning: this.options.fromBeginning });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: partitionsGatheredPerFetch,
      eachBatch: (payload) => this.gather(payload, handle),
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.consumer.disconnect();
    await this.admin?.disconnect();
    await this.producer?.disconnect();
  }

  /** Runs `work` between batches, never alongside one. */
  exclusive<T>(work: () => Promise<T>): Promise<T> {
    const result = this.queue.then(() => this.watched(work));
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** Runs `work`, calling `onStuck` if it has not settled within `maxStallMs`. */
  private async watched<T>(work: () => Promise<T>): Promise<T> {
    const maxStallMs = this.options.maxStallMs ?? 10 * 60_000;
    const watchdog = setTimeout(() => {
      if (!this.stopping)
        this.options.onStuck?.(new Error(`a batch or timer has not finished in ${maxStallMs / 1_000} s`));
    }, maxStallMs);
    watchdog.unref();
    try {
      return await work();
    } finally {
      clearTimeout(watchdog);
    }
  }

  /**
   * Produces `outbound` and commits the partitions' current offsets again with fresh checkpoint metadata, in one
   * transaction: for work done outside batches (timers) that changed the state. Call inside `exclusive`.
   */
  async commitOutside(partitions: TopicPartition[], outbound: OutboundRecord[]): Promise<void> {
    const offsets = partitions.flatMap((partition) => {
      const owned = this.owned.get(keyOf(partition));
      return owned?.lastCommitted === undefined
        ? []
        : [{ ...partition, offset: owned.lastCommitted.toString(), metadata: this.metadataFor(partition) }];
    });
    await this.commit(offsets, outbound);
  }

  /**
   * Drops a partition's state and rebuilds it from the last checkpoint, as a new owner would: for when state moved
   * on but its outputs were not stored.
   */
  rebuild({ topic, partition }: TopicPartition): void {
    const hooks = this.options.partitionState;
    if (!hooks || !this.owned.has(keyOf({ topic, partition }))) return;
    hooks.revoked({ topic, partition });
    this.owned.delete(keyOf({ topic, partition }));
    this.own([{ topic, partition }]);
  }

  /** After a consumer crash kafkajs rejoins and fetches from the committed offsets: state must be rebuilt. */
  private forgetPartitions(): void {
    this.joined = false;
    for (const owned of this.owned.values()) this.options.partitionState?.revoked(owned);
    this.owned.clear();
  }

  private onGroupJoin(event: ConsumerGroupJoinEvent): void {
    this.joined = true;
    const hooks = this.options.partitionState;
    const assignment = Object.entries(event.payload.memberAssignment).flatMap(([topic, partitions]) =>
      partitions.map((partition) => ({ topic, partition })),
    );
    const assignedKeys = new Set(assignment.map(keyOf));
    for (const [key, owned] of this.owned) {
      if (assignedKeys.has(key)) continue;
      this.owned.delete(key);
      hooks?.revoked(owned);
    }
    this.own(assignment.filter((partition) => !this.owned.has(keyOf(partition))));
  }

  private own(partitions: TopicPartition[]): void {
    if (partitions.length === 0) return;
    const hooks = this.options.partitionState;
    const ready = hooks ? this.takeOver(partitions, hooks) : Promise.resolve();
    // Not lost: the partition's next batch awaits it, fails with it and starts the take-over again (see takenOver).
    ready.catch(() => undefined);
    for (const partition of partitions) {
      this.owned.set(keyOf(partition), {
        ...partition,
        ready,
        committedAtAssignment: -1n,
        lastCommitted: undefined,
        awaitingSeek: false,
        droppedBatch: false,
        caughtUp: false,
        readUpTo: -1n,
      });
    }
  }

  /** Reads what was committed for newly assigned partitions and lets the hooks rebuild them from the log. */
  private async takeOver(partitions: TopicPartition[], hooks: PartitionStateHooks): Promise<void> {
    for (const topic of new Set(partitions.map((partition) => partition.topic))) {
      const wanted = new Set(partitions.filter((partition) => partition.topic === topic).map(keyOf));
      const [committed] = await this.admin!.fetchOffsets({ groupId: this.options.groupId, topics: [topic] });
      if (this.stopping) return;
      for (const { partition, offset, metadata } of committed?.partitions ?? []) {
        // Only these partitions: the others this member owns keep their state.
        if (!wanted.has(keyOf({ topic, partition }))) continue;
        const owned = this.owned.get(keyOf({ topic, partition }));
        if (!owned) continue;
        const hasCommit = offset !== '-1';
        owned.committedAtAssignment = BigInt(offset);
        owned.lastCommitted = hasCommit ? BigInt(offset) : undefined;
        const rebuildFrom = hooks.assigned({ topic, partition }, hasCommit ? offset : undefined, metadata);
        if (rebuildFrom !== undefined && hasCommit && BigInt(rebuildFrom) < BigInt(offset)) {
          owned.awaitingSeek = true;
          this.consumer.seek({ topic, partition, offset: rebuildFrom });
        }
      }
    }
  }

  /**
   * kafkajs hands a fetch's batches to its workers in one go, so the batches of one fetch arrive in the same turn of
   * the event loop. They are handled as one: the handler gets every partition's records in one call, and their
   * offsets are committed together. One sink write and one commit per fetch instead of one per partition in turn,
   * which made a record wait for the writes and commits of every partition fetched ahead of it.
   */
  private gather(payload: EachBatchPayload, handle: BatchHandler): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.gathered.length === 0) {
        setImmediate(() => {
          const gathered = this.gathered;
          this.gathered = [];
          this.exclusive(() =>
            this.handleBatches(
              gathered.map(({ payload }) => payload),
              handle,
            ),
          ).then(
            () => gathered.forEach((batch) => batch.resolve()),
            (error: unknown) => gathered.forEach((batch) => batch.reject(error)),
          );
        });
      }
      this.gathered.push({ payload, resolve, reject });
    });
  }

  private async handleBatches(payloads: EachBatchPayload[], handle: BatchHandler): Promise<void> {
    const taken: TakenBatch[] = [];
    for (const payload of payloads) {
      const { batch } = payload;
      const owned = this.owned.get(keyOf(batch));
      if (owned) await this.takenOver(owned);
      if (owned?.awaitingSeek) {
        // Fetched from the committed offset before the rebuild seek took effect: kafkajs fetches again from the
        // seek once this returns without resolving anything.
        const fromSeek = BigInt(batch.firstOffset() ?? batch.lastOffset()) < owned.committedAtAssignment;
        owned.awaitingSeek = false;
        if (!fromSeek) {
          owned.droppedBatch = true;
          continue;
        }
      }
      if (batch.messages.length > 0) taken.push({ payload, owned, next: BigInt(batch.lastOffset()) + 1n });
    }
    if (taken.length === 0) return;
    const records = taken.flatMap(({ payload: { batch } }) =>
      batch.messages.map((message) => toRecord(batch.topic, batch.partition, message)),
    );
    const heartbeat = () => taken[0]!.payload.heartbeat();
    // Re-read records of a rebuild lie below what the previous owner committed: never commit backwards.
    const advancing = taken.filter(({ owned, next }) => !owned || next > owned.committedAtAssignment);
    try {
      const outbound = await handle(records, heartbeat);
      if (advancing.length > 0) {
        await this.commit(
          advancing.map(({ payload: { batch }, next }) => ({
            topic: batch.topic,
            partition: batch.partition,
            offset: next.toString(),
            metadata: this.metadataFor(batch),
          })),
          outbound ?? [],
        );
      }
    } catch (error) {
      // kafkajs fetches the batches again, but the state already took them in: rebuild it as a new owner would.
      for (const { owned } of taken) if (owned) this.rebuild(owned);
      throw error;
    }
    for (const { payload, owned, next } of taken) {
      payload.resolveOffset(payload.batch.lastOffset());
      if (!owned) continue;
      if (advancing.some((batch) => batch.owned === owned)) owned.lastCommitted = next;
      owned.caughtUp = next >= BigInt(payload.batch.highWatermark);
      owned.readUpTo = next;
    }
    await heartbeat();
  }

  /**
   * Waits for the partition's take-over. One that failed (the committed offsets could not be read while the
   * coordinator moved, or the hooks threw) is started again, and this fetch fails before anything is handled:
   * kafkajs fetches the batches again after its backoff, heartbeating meanwhile, and finds the new take-over.
   * Awaiting the failed one again would refuse every batch of the partition for as long as this member owns it.
   */
  private async takenOver(owned: OwnedPartition): Promise<void> {
    try {
      await owned.ready;
    } catch (error) {
      if (this.owned.get(keyOf(owned)) === owned) this.rebuild(owned);
      throw error;
    }
  }

  private async commit(offsets: CommittedOffset[], outbound: OutboundRecord[]): Promise<void> {
    const producer = this.producer;
    // Nothing to produce (most batches: no alert changed, no document refused): a plain offset commit is one round
    // trip where a transaction takes four, and as safe, since the coordinator refuses commits from a member of an
    // older generation just as it fences an older producer.
    if (!producer || outbound.length === 0) {
      if (outbound.length > 0) throw new Error('producing with the commit needs a transactional producer');
      // kafkajs passes metadata through to the commit request, though its types leave it out.
      await this.consumer.commitOffsets(offsets as Array<Omit<CommittedOffset, 'metadata'>>);
      return;
    }
    for (let attempt = 1; ; attempt++) {
      try {
        await this.commitInTransaction(producer, offsets, outbound);
        return;
      } catch (error) {
        // The broker refuses a transaction's offsets while it still writes the previous one's markers: retriable,
        // though kafkajs 2.2.4 does not retry it itself. Nothing of the aborted attempt became visible.
        if (
          (error as { type?: string }).type !== 'CONCURRENT_TRANSACTIONS' ||
          attempt >= maxTransactionAttempts
        ) {
          // A send of this transaction may have been written under sequence numbers kafkajs would reuse.
          await producer.renew();
          throw error;
        }
        await sleep(backoffDelay(attempt, transactionBackoff));
      }
    }
  }

  private async commitInTransaction(
    producer: RenewableProducer,
    offsets: CommittedOffset[],
    outbound: OutboundRecord[],
  ): Promise<void> {
    const transaction = await producer.transaction();
    const stored: Array<OutboundRecord & RecordPosition> = [];
    try {
      for (const [topic, records] of groupByTopic(outbound)) {
        for (const run of inRunsOfAtMost(records, maxProduceRequestBytes)) {
          const answer = await transaction.send({
            topic,
            messages: run.map(({ key, value, partition }) => ({ key, value, partition })),
          });
          const offsets = offsetsInRequest(run, answer);
          run.forEach((record, index) => {
            const offset = offsets[index];
            if (offset !== undefined && record.partition !== undefined)
              stored.push({ ...record, partition: record.partition, offset });
          });
        }
      }
      await transaction.sendOffsets({
        consumerGroupId: this.options.groupId,
        topics: [...groupByTopic(offsets)].map(([topic, partitions]) => ({
          topic,
          partitions: partitions as Array<Omit<CommittedOffset, 'topic' | 'metadata'>>,
        })),
      });
      await transaction.commit();
    } catch (error) {
      await transaction.abort().catch(() => undefined);
      throw error;
    }
    if (stored.length > 0) this.options.onCommitted?.(stored);
  }

  private metadataFor(partition: TopicPartition): string | null {
    return this.options.partitionState?.checkpoint(partition) ?? null;
  }
}

/**
 * kafkajs workers, so batches a fetch brings: more than a member of our groups owns partitions of. Any beyond it are
 * handled in the next gathering.
 */
const partitionsGatheredPerFetch = 64;
const maxTransactionAttempts = 10;
const transactionBackoff = { initialMs: 20, maxMs: 1_000 };

interface GatheredBatch {
  payload: EachBatchPayload;
  resolve: () => void;
  reject: (error: unknown) => void;
}

interface TakenBatch {
  payload: EachBatchPayload;
  owned: OwnedPartition | undefined;
  /** The offset to commit once its records are handled. */
  next: bigint;
}

interface CommittedOffset extends TopicPartition {
  offset: string;
  metadata: string | null;
}

function groupByTopic<T extends { topic: string }>(items: T[]): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const group = groups.get(item.topic);
    if (group) group.push(item);
    else groups.set(item.topic, [item]);
  }
  return groups;
}

function keyOf({ topic, partition }: TopicPartition): string {
  return `${topic}:${partition}`;
}

function toRecord(topic: string, partition: number, message: KafkaMessage): ConsumedRecord {
  return {
    topic,
    partition,
    offset: message.offset,
    key: message.key?.toString(),
    value: message.value ?? Buffer.alloc(0),
  };
}
