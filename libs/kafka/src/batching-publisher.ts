import type { Producer } from 'kafkajs';

export interface OutgoingRecord {
  topic: string;
  key: string;
  value: string | Buffer;
}

interface Pending extends OutgoingRecord {
  acknowledged: () => void;
  failed: (error: Error) => void;
}

export interface BatchingPublisherOptions {
  /** How long a record may wait for companions before its batch is sent. */
  lingerMs: number;
  maxBatchRecords: number;
}

/**
 * Gathers records from many concurrent callers into few produce requests (kafkajs does not batch across send
 * calls), and resolves each caller's promise only when Kafka has acknowledged that record. One request is in flight
 * at a time, which keeps the idempotent producer's ordering guarantee; the next batch fills up meanwhile.
 */
export class BatchingPublisher {
  private queue: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  private sending: Promise<void> = Promise.resolve();

  constructor(
    private readonly producer: Producer,
    private readonly options: BatchingPublisherOptions,
  ) {}

  publish(record: OutgoingRecord): Promise<void> {
    return new Promise((acknowledged, failed) => {
      this.queue.push({ ...record, acknowledged, failed });
      if (this.queue.length >= this.options.maxBatchRecords) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.options.lingerMs);
    });
  }

  /** Resolves once everything published so far has been acknowledged or has failed. */
  async drain(): Promise<void> {
    this.flush();
    await this.sending;
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    this.sending = this.sending.then(() => this.send(batch));
  }

  private async send(batch: Pending[]): Promise<void> {
    const byTopic = new Map<string, Array<{ key: string; value: string | Buffer }>>();
    for (const { topic, key, value } of batch) {
      let messages = byTopic.get(topic);
      if (!messages) byTopic.set(topic, (messages = []));
      messages.push({ key, value });
    }
    try {
      await this.producer.sendBatch({
        acks: -1,
        topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
      });
      for (const record of batch) record.acknowledged();
    } catch (error) {
      for (const record of batch) record.failed(error as Error);
    }
  }
}
