import type { Consumer, Kafka } from 'kafkajs';
import type { AlertMessage } from '@fleetlog/contracts';

/** Every alert transition on fleet.alerts, from the topic's beginning, gathered as they arrive. */
export class AlertTail {
  readonly alerts: AlertMessage[] = [];
  private readonly consumer: Consumer;

  constructor(
    kafka: Kafka,
    private readonly topic: string,
    groupId: string,
  ) {
    this.consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100 });
  }

  async start(): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.topic, fromBeginning: true });
    await this.consumer.run({
      eachMessage: async ({ message }) => {
        this.alerts.push(JSON.parse(message.value!.toString('utf8')) as AlertMessage);
      },
    });
  }

  stop(): Promise<void> {
    return this.consumer.disconnect();
  }
}
