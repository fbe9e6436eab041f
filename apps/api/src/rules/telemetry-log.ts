import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { Partitioners, type Batch, type Kafka, type PartitionMetadata } from 'kafkajs';
import type { Logger } from 'pino';
import { APP_CONFIG, type ApiConfig } from '@fleetlog/config';
import { consumerGroupId, topicNames } from '@fleetlog/contracts';
import { createKafka, type ConsumedRecord } from '@fleetlog/kafka';
import { LOGGER } from '@fleetlog/observability';

export interface LogRange {
  /** Log append times (epoch ms), both inclusive. */
  from: number;
  to: number;
  /** The gateway keys records by vehicle id: with one, only that vehicle's partition is read. */
  vehicleId?: string;
}

/** The range holds more records than one read may take. */
export class RangeTooLargeError extends Error {
  constructor(
    readonly records: number,
    readonly limit: number,
  ) {
    super(`the range holds ${records} records, more than the limit of ${limit}`);
    this.name = 'RangeTooLargeError';
  }
}

interface PartitionSpan {
  partition: number;
  start: bigint;
  /** Exclusive. */
  end: bigint;
}

/**
 * Reads a time range of fleet.telemetry, as recorded: finds where each partition's range starts and ends by log
 * timestamp, refuses a range holding more than `maxRecords` before reading any, and hands the records over batch by
 * batch, each partition in log order, so a long range never sits in memory.
 */
@Injectable()
export class TelemetryLog {
  private readonly kafka: Kafka;
  private readonly topic: string;
  private readonly namespace: string;

  constructor(@Inject(APP_CONFIG) config: ApiConfig, @Inject(LOGGER) logger: Logger) {
    this.kafka = createKafka(config.KAFKA_BROKERS, 'fleetlog-api-dry-run', logger);
    this.namespace = config.FLEETLOG_NAMESPACE;
    this.topic = topicNames(this.namespace).telemetry;
  }

  async read(
    range: LogRange,
    maxRecords: number,
    onRecords: (records: ConsumedRecord[]) => void,
    timeoutMs = 120_000,
  ): Promise<number> {
    const spans = await this.spans(range);
    const total = recordsIn(spans);
    if (total > maxRecords) throw new RangeTooLargeError(total, maxRecords);
    await this.consume(spans, range.vehicleId, onRecords, timeoutMs);
    return total;
  }

  /**
   * A sample of what vehicles send now: the newest records appended since `since`, at most `records.max` shared
   * evenly by the partitions. Reads nothing, and answers 0, when fewer than `records.min` are there.
   */
  async readNewest(
    since: number,
    records: { min: number; max: number },
    onRecords: (records: ConsumedRecord[]) => void,
    timeoutMs = 30_000,
  ): Promise<number> {
    const spans = await this.spans({ from: since, to: Date.now() });
    const perPartition = BigInt(Math.ceil(records.max / Math.max(spans.length, 1)));
    const newest = spans.map((span) => ({
      ...span,
      start: span.end - span.start > perPartition ? span.end - perPartition : span.start,
    }));
    const total = recordsIn(newest);
    if (total < records.min) return 0;
    await this.consume(newest, undefined, onRecords, timeoutMs);
    return total;
  }

  private async consume(
    spans: PartitionSpan[],
    vehicleId: string | undefined,
    onRecords: (records: ConsumedRecord[]) => void,
    timeoutMs: number,
  ): Promise<void> {
    if (spans.length === 0) return;
    const consumer = this.kafka.consumer({
      groupId: consumerGroupId(this.namespace, `api-rule-dry-run-${randomUUID()}`),
      maxWaitTimeInMs: 100,
    });
    const pending = new Map(spans.map((span) => [span.partition, span]));
    let finish!: () => void;
    let fail!: (error: Error) => void;
    const finished = new Promise<void>((resolve, reject) => ((finish = resolve), (fail = reject)));
    // Awaited only once the consumer runs: a timeout before that must not count as unhandled.
    finished.catch(() => undefined);
    const timer = setTimeout(
      () => fail(new Error(`telemetry range not read within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const take = (batch: Batch) => {
      const span = pending.get(batch.partition);
      // Fetched from the log's end before the seek to the range took effect: not the range, not its end.
      if (!span || BigInt(batch.firstOffset() ?? batch.lastOffset()) >= span.end) return;
      const records = batch.messages
        .filter((message) => BigInt(message.offset) >= span.start && BigInt(message.offset) < span.end)
        .filter((message) => vehicleId === undefined || message.key?.toString() === vehicleId)
        .map((message): ConsumedRecord => ({
          topic: batch.topic,
          partition: batch.partition,
          offset: message.offset,
          key: message.key?.toString(),
          value: message.value ?? Buffer.alloc(0),
        }));
      if (records.length > 0) onRecords(records);
      if (BigInt(batch.lastOffset()) + 1n >= span.end) {
        pending.delete(batch.partition);
        consumer.pause([{ topic: this.topic, partitions: [batch.partition] }]);
        if (pending.size === 0) finish();
      }
    };
    try {
      await consumer.connect();
      await consumer.subscribe({ topic: this.topic, fromBeginning: false });
      await consumer.run({
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          try {
            take(batch);
          } catch (error) {
            // Not retried: kafkajs would hand the batch over again, and the caller has taken part of it in.
            fail(error as Error);
          }
        },
      });
      for (const span of spans) {
        consumer.seek({ topic: this.topic, partition: span.partition, offset: span.start.toString() });
      }
      await finished;
    } finally {
      clearTimeout(timer);
      await consumer.disconnect();
    }
  }

  /** The partitions holding records of the range, with the offsets it spans. */
  private async spans(range: LogRange): Promise<PartitionSpan[]> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      // Where none is as late, both answer the partition's end.
      const starts = await admin.fetchTopicOffsetsByTimestamp(this.topic, range.from);
      const ends = await admin.fetchTopicOffsetsByTimestamp(this.topic, range.to + 1);
      const wanted = range.vehicleId === undefined ? undefined : partitionOf(range.vehicleId, starts.length);
      return starts
        .filter(({ partition }) => wanted === undefined || partition === wanted)
        .map(({ partition, offset }) => ({
          partition,
          start: BigInt(offset),
          end: BigInt(ends.find((end) => end.partition === partition)!.offset),
        }))
        .filter((span) => span.end > span.start);
    } finally {
      await admin.disconnect();
    }
  }
}

function recordsIn(spans: readonly PartitionSpan[]): number {
  return spans.reduce((sum, span) => sum + Number(span.end - span.start), 0);
}

/** The partition the gateway's producer (kafkajs' default partitioner, murmur2 of the key) put the vehicle's records in. */
function partitionOf(vehicleId: string, partitions: number): number {
  const partitionMetadata = Array.from({ length: partitions }, (_, partitionId): PartitionMetadata => ({
    partitionErrorCode: 0,
    partitionId,
    leader: 0,
    replicas: [0],
    isr: [0],
  }));
  return Partitioners.DefaultPartitioner()({
    topic: '',
    partitionMetadata,
    message: { key: vehicleId, value: null },
  });
}
