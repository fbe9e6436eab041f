import type { Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { CompactedTopicTable } from '@fleetlog/kafka';

/** Changes that arrive together (an `apply` of a rule directory, a script tagging a fleet) are handed on once. */
const settleMs = 200;

export interface FollowedTableOptions<T> {
  topic: string;
  groupPrefix: string;
  /** What one record describes (`rule`, `vehicle`): names its log lines and the counter of refused records. */
  subject: string;
  /** Turns a record into T; throwing refuses the record, which leaves the key as it was. */
  decode: (value: Buffer, key: string) => T;
  /** What a change's log line says of the new value (`undefined`: the key was deleted). */
  summary: (value: T | undefined) => Record<string, unknown>;
  /** Called once changes have stopped arriving for a moment, with the keys changed since the last call. */
  onSettled: (keys: string[]) => void;
}

/**
 * A compacted topic cep takes its configuration from (rules, vehicle tags): read whole at start and followed live,
 * bursts of changes handed on together, records that do not decode refused, logged and counted.
 */
export class FollowedTable<T> {
  readonly table: CompactedTopicTable<T>;
  private readonly changed = new Set<string>();
  private pending: NodeJS.Timeout | undefined;

  constructor(kafka: Kafka, logger: Logger, metrics: Registry, options: FollowedTableOptions<T>) {
    const { topic, subject } = options;
    const rejected = new Counter({
      name: `fleetlog_cep_${subject}_records_rejected_total`,
      help: `${topic} records that did not hold a valid ${subject} (the ${subject} stayed as it was)`,
      registers: [metrics],
    });
    this.table = new CompactedTopicTable<T>(kafka, {
      topic,
      groupPrefix: options.groupPrefix,
      decode: options.decode,
      onChange: ({ key, value }) => {
        logger.info({ [subject]: key, ...options.summary(value) }, `${subject} changed`);
        this.changed.add(key);
        this.pending ??= setTimeout(() => {
          this.pending = undefined;
          const keys = [...this.changed];
          this.changed.clear();
          options.onSettled(keys);
        }, settleMs);
      },
      onRejected: ({ key, offset }, error) => {
        rejected.inc();
        logger.error({ [subject]: key, offset, err: error }, `${subject} record refused`);
      },
    });
  }

  start(): Promise<void> {
    return this.table.start();
  }

  async stop(): Promise<void> {
    clearTimeout(this.pending);
    await this.table.stop();
  }
}
