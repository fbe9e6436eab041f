import type { Producer, ProducerBatch, ProducerRecord, RecordMetadata, Transaction } from 'kafkajs';

/**
 * An idempotent kafkajs producer that can be exchanged for a new one (a new producer id, so new sequence numbers).
 *
 * kafkajs hands the sequence numbers of a send it gave up on to the next send, though the broker may have written
 * those records (their answer lost). The broker takes a batch with the sequence numbers of one it already wrote for
 * that batch's retry: it acknowledges it and drops it. So after a failed send, either resend exactly the same batch
 * (`sendBatch`, then the broker's deduplication makes it exactly once) or send through a new producer (`send`: the
 * failed records may then be in the log although the caller was told they failed, but nothing later is lost).
 */
export class RenewableProducer {
  private producer: Producer;
  private producerConnected = false;

  constructor(private readonly create: () => Producer) {
    this.producer = this.adopt(create());
  }

  get connected(): boolean {
    return this.producerConnected;
  }

  connect(): Promise<void> {
    return this.producer.connect();
  }

  disconnect(): Promise<void> {
    return this.producer.disconnect();
  }

  /** After a failure, the caller must resend this very batch, or `renew` before sending anything else. */
  async sendBatch(batch: ProducerBatch): Promise<RecordMetadata[]> {
    return (await this.connectedProducer()).sendBatch(batch);
  }

  /** For callers that will not resend the same records: a failure renews the producer. */
  async send(record: ProducerRecord): Promise<RecordMetadata[]> {
    try {
      return await (await this.connectedProducer()).send(record);
    } catch (error) {
      await this.renew();
      throw error;
    }
  }

  /**
   * For a transactional producer. After a failed transaction, `renew`: the aborted transaction's batches keep their
   * sequence numbers under the producer's epoch, and a new producer registers the transactional id again, which
   * bumps the epoch.
   */
  async transaction(): Promise<Transaction> {
    return (await this.connectedProducer()).transaction();
  }

  /** Drops the producer for a new one, connected by the next send. */
  async renew(): Promise<void> {
    await this.producer.disconnect().catch(() => undefined);
    this.producer = this.adopt(this.create());
  }

  /** The current producer, connected first if it is new (a renewed one) or its connection attempt failed. */
  private async connectedProducer(): Promise<Producer> {
    if (!this.producerConnected) await this.producer.connect();
    return this.producer;
  }

  private adopt(producer: Producer): Producer {
    producer.on(producer.events.CONNECT, () => (this.producerConnected = true));
    producer.on(producer.events.DISCONNECT, () => (this.producerConnected = false));
    return producer;
  }
}
