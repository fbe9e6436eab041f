import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Logger } from 'pino';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { APP_CONFIG, type GatewayConfig } from '@fleetlog/config';
import { topicNames, type GatewayProgress, type TopicNames } from '@fleetlog/contracts';
import { BatchingPublisher, createIdempotentProducer, createKafka, ensureTopics } from '@fleetlog/kafka';
import { AcknowledgingSubscriber } from '@fleetlog/mqtt';
import { HealthRegistry, LOGGER } from '@fleetlog/observability';
import { TelemetryIngest, deviceTopicFilter } from '@fleetlog/telemetry';

const hour = 3_600_000;
const progressIntervalMs = 1_000;
/** As published in the telemetry schema's description. */
const telemetryMaxNestingDepth = 32;

/**
 * The gateway's one job: every message a device publishes becomes exactly one Kafka record, on fleet.telemetry
 * when valid, on the dead-letter topic otherwise, and the device gets its PUBACK only once Kafka has it.
 */
@Injectable()
export class TelemetryForwarder implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly topics: TopicNames;
  private readonly publisher: BatchingPublisher;
  private readonly subscriber: AcknowledgingSubscriber;
  private readonly ingest: TelemetryIngest;
  private readonly received: Counter;
  private readonly forwarded: Counter;
  private readonly rejected: Counter<'reason'>;
  private readonly kafkaAckSeconds: Histogram;
  private progressTimer: NodeJS.Timeout | undefined;

  constructor(
    @Inject(APP_CONFIG) private readonly config: GatewayConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    health: HealthRegistry,
    metrics: Registry,
  ) {
    this.topics = topicNames(config.FLEETLOG_NAMESPACE);
    const kafka = createKafka(config.KAFKA_BROKERS, 'fleetlog-gateway', logger);
    // While Kafka is unavailable a batch is resent, its messages unacknowledged to devices, so an outage loses
    // nothing. (The receive window was meant to stop the broker too, but Mosquitto 2.0.11 honours it only for its
    // first window.)
    this.publisher = new BatchingPublisher(
      () => createIdempotentProducer(kafka),
      { lingerMs: 2, maxBatchRecords: 2_000, retry: { initialMs: 200, maxMs: 10_000 } },
      logger,
    );
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
    health.register('kafka', () => this.publisher.connected);
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
    await this.publisher.connect();
    this.progressTimer = setInterval(() => this.writeProgress(), progressIntervalMs);
    await this.subscriber.start();
    this.logger.info({ topics: this.topics, filter: deviceTopicFilter }, 'forwarding telemetry');
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.progressTimer);
    // Stopping the subscriber waits for messages in flight, which the publisher settles once it stops resending.
    const subscriberStopped = this.subscriber.stop();
    await this.publisher.close();
    await subscriberStopped;
  }

  private async forward(mqttTopic: string, payload: Buffer): Promise<void> {
    const receivedAt = new Date();
    this.received.inc();
    const outcome = this.ingest.ingest(mqttTopic, payload, receivedAt);
    if (outcome.accepted) {
      await this.publisher.publish({
        topic: this.topics.telemetry,
        key: outcome.record.vehicleId,
        value: outcome.bytes,
      });
      this.forwarded.inc();
    } else {
      const { deadLetter } = outcome;
      await this.publisher.publish({
        topic: this.topics.telemetryDeadLetters,
        key: mqttTopic,
        value: JSON.stringify(deadLetter),
      });
      this.rejected.inc({ reason: deadLetter.reason });
    }
    this.kafkaAckSeconds.observe((Date.now() - receivedAt.getTime()) / 1000);
  }

  /**
   * Tells cep how far this gateway's messages are in the log (GatewayProgress). The record queues behind every message
   * received so far, so once it is in the log, so are they. None is written when the gateway stops: the broker keeps
   * its session's messages for its return, and cep must wait for them (or for the progress to expire).
   */
  private writeProgress(): void {
    const progress: GatewayProgress = { receivedThrough: new Date().toISOString() };
    this.publisher
      .publish({
        topic: this.topics.gatewayProgress,
        key: this.config.MQTT_CLIENT_ID,
        value: JSON.stringify(progress),
      })
      .catch(() => undefined); // refused only once closing; the next gateway start writes progress again
  }
}
