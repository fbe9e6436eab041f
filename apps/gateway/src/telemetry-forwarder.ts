import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Producer } from 'kafkajs';
import type { Logger } from 'pino';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { APP_CONFIG, type GatewayConfig } from '@fleetlog/config';
import { topicNames, type TopicNames } from '@fleetlog/contracts';
import {
  BatchingPublisher,
  createIdempotentProducer,
  createKafka,
  ensureTopics,
  type OutgoingRecord,
} from '@fleetlog/kafka';
import { AcknowledgingSubscriber } from '@fleetlog/mqtt';
import { HealthRegistry, LOGGER } from '@fleetlog/observability';
import { backoffDelay, sleep } from '@fleetlog/resilience';
import { TelemetryIngest, deviceTopicFilter } from '@fleetlog/telemetry';

const hour = 3_600_000;
/** As published in the telemetry schema's description. */
const telemetryMaxNestingDepth = 32;

/**
 * The gateway's one job: every message a device publishes becomes exactly one Kafka record, on fleet.telemetry
 * when valid, on the dead-letter topic otherwise, and the device gets its PUBACK only once Kafka has it.
 */
@Injectable()
export class TelemetryForwarder implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly topics: TopicNames;
  private readonly producer: Producer;
  private readonly publisher: BatchingPublisher;
  private readonly subscriber: AcknowledgingSubscriber;
  private readonly ingest: TelemetryIngest;
  private producerConnected = false;
  private stopping = false;
  private readonly received: Counter;
  private readonly forwarded: Counter;
  private readonly rejected: Counter<'reason'>;
  private readonly kafkaAckSeconds: Histogram;

  constructor(
    @Inject(APP_CONFIG) private readonly config: GatewayConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    health: HealthRegistry,
    metrics: Registry,
  ) {
    this.topics = topicNames(config.FLEETLOG_NAMESPACE);
    const kafka = createKafka(config.KAFKA_BROKERS, 'fleetlog-gateway', logger);
    this.producer = createIdempotentProducer(kafka);
    this.producer.on(this.producer.events.CONNECT, () => (this.producerConnected = true));
    this.producer.on(this.producer.events.DISCONNECT, () => (this.producerConnected = false));
    this.publisher = new BatchingPublisher(this.producer, { lingerMs: 2, maxBatchRecords: 2_000 });
    this.ingest = new TelemetryIngest({
      maxPayloadBytes: config.GATEWAY_MAX_PAYLOAD_BYTES,
      maxNestingDepth: telemetryMaxNestingDepth,
      maxFutureSkewMs: config.GATEWAY_MAX_FUTURE_SKEW_S * 1000,
      maxAgeMs: config.GATEWAY_MAX_EVENT_AGE_H * hour,
    });
    this.subscriber = new AcknowledgingSubscriber(
      {
        url: config.MQTT_URL,
        clientId: config.MQTT_CLIENT_ID,
        shareGroup:
          config.MQTT_SHARE_GROUP && config.FLEETLOG_NAMESPACE
            ? `${config.FLEETLOG_NAMESPACE}-${config.MQTT_SHARE_GROUP}`
            : config.MQTT_SHARE_GROUP,
        topicFilter: deviceTopicFilter,
        receiveMaximum: Math.min(config.GATEWAY_MAX_IN_FLIGHT, 65_535),
        sessionExpirySeconds: config.GATEWAY_SESSION_EXPIRY_S,
      },
      (topic, payload) => this.forward(topic, payload),
    );

    health.register('mqtt', () => this.subscriber.connected);
    health.register('kafka', () => this.producerConnected);
    const registers = [metrics];
    this.received = new Counter({
      name: 'fleetlog_gateway_messages_received_total',
      help: 'MQTT messages received',
      registers,
    });
    this.forwarded = new Counter({
      name: 'fleetlog_gateway_messages_forwarded_total',
      help: 'Valid messages acknowledged by Kafka on the telemetry topic',
      registers,
    });
    this.rejected = new Counter({
      name: 'fleetlog_gateway_messages_rejected_total',
      help: 'Invalid messages acknowledged by Kafka on the dead-letter topic, by reason',
      labelNames: ['reason'],
      registers,
    });
    this.kafkaAckSeconds = new Histogram({
      name: 'fleetlog_gateway_kafka_ack_seconds',
      help: 'From MQTT receipt to Kafka acknowledgement',
      // Fine enough between 1 and 100 ms to read p50 and p99 from, where the latency target lies.
      buckets: [
        0.001, 0.002, 0.003, 0.004, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.04, 0.05, 0.075, 0.1, 0.25, 0.5,
        1, 2, 5,
      ],
      registers,
    });
    const subscriber = this.subscriber;
    new Gauge({
      name: 'fleetlog_gateway_in_flight_messages',
      help: 'Messages received but not yet acknowledged to the device',
      registers,
      collect() {
        this.set(subscriber.inFlight);
      },
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    const kafka = createKafka(this.config.KAFKA_BROKERS, 'fleetlog-gateway-admin', this.logger);
    await ensureTopics(kafka, this.topics);
    await this.producer.connect();
    await this.subscriber.start();
    this.logger.info({ topics: this.topics, filter: deviceTopicFilter }, 'forwarding telemetry');
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopping = true;
    await this.subscriber.stop();
    await this.publisher.drain();
    await this.producer.disconnect();
  }

  private async forward(mqttTopic: string, payload: Buffer): Promise<void> {
    const receivedAt = new Date();
    this.received.inc();
    const outcome = this.ingest.ingest(mqttTopic, payload, receivedAt);
    if (outcome.accepted) {
      await this.publishUntilAcknowledged({
        topic: this.topics.telemetry,
        key: outcome.record.vehicleId,
        value: outcome.bytes,
      });
      this.forwarded.inc();
    } else {
      const { deadLetter } = outcome;
      await this.publishUntilAcknowledged({
        topic: this.topics.telemetryDeadLetters,
        key: mqttTopic,
        value: JSON.stringify(deadLetter),
      });
      this.rejected.inc({ reason: deadLetter.reason });
    }
    this.kafkaAckSeconds.observe((Date.now() - receivedAt.getTime()) / 1000);
  }

  /**
   * While Kafka is unavailable the message stays unacknowledged and is retried, so an outage loses nothing. (The
   * receive window was meant to stop the broker too, but Mosquitto 2.0.11 honours it only for its first window.)
   */
  private async publishUntilAcknowledged(record: OutgoingRecord): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.publisher.publish(record);
      } catch (error) {
        if (this.stopping) throw error;
        if (attempt === 1 || attempt % 10 === 0) {
          this.logger.warn(
            { err: error, attempt, topic: record.topic },
            'Kafka did not acknowledge; retrying',
          );
        }
        await sleep(backoffDelay(attempt, { initialMs: 200, maxMs: 10_000 }));
      }
    }
  }
}
