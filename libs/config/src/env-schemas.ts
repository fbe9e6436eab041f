import { hostname } from 'node:os';
import { z } from 'zod';

const port = (fallback: number) => z.coerce.number().int().min(1).max(65535).default(fallback);
const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const url = (protocols: string[]) =>
  z.string().refine((value) => URL.canParse(value) && protocols.includes(new URL(value).protocol), {
    message: `must be a URL with scheme ${protocols.map((protocol) => protocol.replace(':', '')).join(' or ')}`,
  });
const brokerList = z
  .string()
  .default('127.0.0.1:9092')
  .transform((value) => value.split(',').map((broker) => broker.trim()))
  .refine((brokers) => brokers.every((broker) => /^[^\s:]+:\d{1,5}$/.test(broker)), {
    message: 'must be a comma-separated list of host:port',
  });

const common = {
  /** Loopback by default: only the container image opens the HTTP endpoints to the network. */
  HTTP_HOST: z.string().min(1).default('127.0.0.1'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Prefixes Kafka topics, consumer groups, Elasticsearch indices and aliases: isolates test runs on a shared stack. */
  FLEETLOG_NAMESPACE: z
    .string()
    .regex(/^[a-z0-9-]*$/, 'only lower-case letters, digits and dashes')
    .default(''),
};
const kafka = { KAFKA_BROKERS: brokerList };
const elasticsearch = { ELASTICSEARCH_URL: url(['http:', 'https:']).default('http://127.0.0.1:9200') };
const mqtt = { MQTT_URL: url(['mqtt:', 'mqtts:', 'ws:', 'wss:']).default('mqtt://127.0.0.1:1883') };

export const gatewayEnvSchema = z.object({
  ...common,
  ...kafka,
  ...mqtt,
  HTTP_PORT: port(3001),
  /** Stable per instance: the broker keeps this client's persistent session (and its unacknowledged messages) across restarts. */
  MQTT_CLIENT_ID: z.string().min(1).default(`fleetlog-gateway-${hostname()}`),
  /**
   * Unset: one gateway with a plain subscription, which Mosquitto 2.0.11 restores from its persistence file after a
   * crash, queueing what devices publish meanwhile. Set: gateways in this share group split the load (MQTT v5 shared
   * subscription), but that Mosquitto forgets a shared subscription when it crashes, and drops what devices publish
   * between its restart and the gateways' resubscription (docs/reliability.md): scale out on a broker that keeps them.
   */
  MQTT_SHARE_GROUP: z.string().min(1).optional(),
  /**
   * Larger messages are dead-lettered. At most 512 KiB: a dead letter carries the payload in base64 (4/3 of it), and a
   * record over Kafka's 1 MB limit is refused for good, holding up every message behind it.
   */
  GATEWAY_MAX_PAYLOAD_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .max(512 * 1024)
    .default(64 * 1024),
  /** How far ahead of the gateway's clock an event time may be (device clock skew). */
  GATEWAY_MAX_FUTURE_SKEW_S: positiveInt(300),
  /** How old an event time may be: devices buffer readings while offline and upload them later. */
  GATEWAY_MAX_EVENT_AGE_H: positiveInt(7 * 24),
  /**
   * How long the broker keeps this gateway's session (and queues messages for it) while it is away: long enough to
   * ride out a restart or an outage. A gateway that will not come back should have its session ended
   * (`endBrokerSession`, libs/mqtt): Mosquitto 2.0.11 forgets the expiry of a session it restored after a restart.
   */
  GATEWAY_SESSION_EXPIRY_S: z.coerce
    .number()
    .int()
    .min(10)
    .max(7 * 86_400)
    .default(86_400),
  /** Messages handed to Kafka but not yet acknowledged to devices; bounds memory when Kafka is slow. */
  GATEWAY_MAX_IN_FLIGHT: positiveInt(10_000),
});

export const cepEnvSchema = z.object({
  ...common,
  ...kafka,
  ...elasticsearch,
  HTTP_PORT: port(3002),
  /** Seeds the fleet.rules topic on first start (when it was never written); after that the topic is the source. */
  RULES_DIR: z.string().min(1).default('rules'),
  /**
   * The live job a fresh install starts with (written to fleet.jobs when that topic was never written). After that
   * fleet.jobs says which jobs run: the live one and every replay, each as consumer group cep-<version> writing the
   * *-<version> indices.
   */
  CEP_JOB_VERSION: z
    .string()
    .regex(/^v\d+$/, 'must look like v1, v2, ...')
    .default('v1'),
  /**
   * Stable per instance (like the gateway's MQTT client id): names the Kafka transactional id, so that a restarted
   * instance aborts what its killed predecessor left open. Two instances must not share one.
   */
  CEP_INSTANCE_ID: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,100}$/, 'letters, digits, dot, dash, underscore')
    .default(hostname()),
  /** How far behind the newest event time of its partition a message may arrive and still feed windows and rules. */
  CEP_ALLOWED_LATENESS_MS: z.coerce.number().int().min(0).max(3_600_000).default(30_000),
  /** Size of the per-vehicle aggregate windows written to the aggregates index. */
  CEP_AGGREGATE_WINDOW_MS: z.coerce.number().int().min(1_000).max(86_400_000).default(60_000),
  /**
   * The most aggregate documents a batch writes. Every vehicle's window ends at the same boundary; the rest of that
   * boundary's documents go with the next batches, so the batch that crosses it does not hold alerts back.
   */
  CEP_MAX_AGGREGATES_PER_BATCH: z.coerce.number().int().min(1).default(1_000),
  /** The most event time a restarted or rebalanced instance re-reads to rebuild state for long-active alerts. */
  CEP_MAX_REBUILD_MS: z.coerce
    .number()
    .int()
    .min(60_000)
    .default(6 * 3_600_000),
  /**
   * The most each fetch takes from one partition: the size of a batch, which is stored and committed as a whole
   * (one Kafka transaction). A caught-up job's batches are small whatever this is; a replay's are this size, and
   * larger ones replay faster (measured: 50,000 ev/s at 1 MiB, 65,000 at 8 MiB) for more memory per fetch.
   */
  CEP_FETCH_MAX_BYTES_PER_PARTITION: z.coerce
    .number()
    .int()
    .min(1024)
    .max(64 * 1024 * 1024)
    .default(8 * 1024 * 1024),
  /** How often wall-clock time advances the watermark of caught-up partitions (absence alerts, closing windows). */
  CEP_CLOCK_TICK_MS: z.coerce.number().int().min(10).max(60_000).default(1_000),
  /**
   * That clock waits for every gateway's backlog to be in the log (fleet.gateway.progress), except a gateway silent
   * for longer than this: gone, or away so long that the fleet's absence alerts should not wait for it any more.
   */
  CEP_GATEWAY_PROGRESS_EXPIRY_MS: z.coerce
    .number()
    .int()
    .min(1_000)
    .max(86_400_000)
    .default(5 * 60_000),
  /**
   * `indexed`: every telemetry record becomes a searchable document. `rollups-only`: no telemetry indexer; raw
   * readings stay in the log (replayable into an index later) and Elasticsearch gets only the per-vehicle aggregates,
   * alerts and documents the jobs write — for fleets that search minutes, not readings, at a fraction of the cost.
   */
  CEP_RAW_TELEMETRY: z.enum(['indexed', 'rollups-only']).default('indexed'),
});

export const notifierEnvSchema = z
  .object({
    ...common,
    ...kafka,
    ...elasticsearch,
    HTTP_PORT: port(3003),
    /** Names the Kafka transactional id of the alert fan-out; stable per instance, unique among instances. */
    NOTIFIER_INSTANCE_ID: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,100}$/, 'letters, digits, dot, dash, underscore')
      .default(hostname()),
    /** An operator-defined target receiving every alert, besides those on fleet.webhooks.targets. */
    WEBHOOK_URL: url(['http:', 'https:']).optional(),
    WEBHOOK_SECRET: z.string().optional(),
    /** Lets WEBHOOK_URL resolve to private, loopback or link-local addresses (a receiver on the same host). */
    WEBHOOK_ALLOW_PRIVATE_NETWORK: z
      .enum(['true', 'false'])
      .default('false')
      .transform((value) => value === 'true'),
    /** Attempts per delivery, the first included; then it is parked on fleet.webhooks.dlq. */
    WEBHOOK_MAX_ATTEMPTS: positiveInt(8),
    /** Full-jitter backoff: the n-th retry waits a random time up to min(max, initial × 2^(n-1)); ~6 h over 8 attempts. */
    WEBHOOK_RETRY_INITIAL_DELAY_MS: positiveInt(6 * 60_000),
    WEBHOOK_RETRY_MAX_DELAY_MS: positiveInt(6 * 3_600_000),
    /** One attempt, DNS to response, gets this long. */
    WEBHOOK_ATTEMPT_TIMEOUT_MS: positiveInt(10_000),
    /** Concurrent attempts per target: a slow target ties up at most this many, never the others' deliveries. */
    WEBHOOK_MAX_IN_FLIGHT_PER_TARGET: positiveInt(4),
  })
  .refine((env) => !env.WEBHOOK_URL || (env.WEBHOOK_SECRET?.length ?? 0) >= 24, {
    path: ['WEBHOOK_SECRET'],
    message: 'required with WEBHOOK_URL, at least 24 characters',
  });

export const apiEnvSchema = z.object({
  ...common,
  ...kafka,
  ...elasticsearch,
  HTTP_PORT: port(3000),
  /** Accepted as an admin key without being stored: creates the first keys. Unset, only stored keys work. */
  API_ADMIN_KEY: z.string().min(32, 'at least 32 characters').optional(),
  /** How long a key lookup is cached: a revocation on another instance takes effect within this time. */
  API_KEY_CACHE_TTL_MS: z.coerce.number().int().min(0).max(60_000).default(5_000),
  /** Token bucket per API key (per client address without one): sustained requests per second ... */
  API_RATE_LIMIT_PER_SECOND: z.coerce.number().positive().default(20),
  /** ... and the burst a quiet caller may spend at once. */
  API_RATE_LIMIT_BURST: positiveInt(100),
  /** Dry runs of rules (POST /rules/test) read the telemetry log: the longest time range and most records one may read. */
  RULES_DRY_RUN_MAX_RANGE_H: z.coerce
    .number()
    .positive()
    .max(31 * 24)
    .default(24),
  RULES_DRY_RUN_MAX_RECORDS: positiveInt(1_000_000),
  /** As cep runs with (set both alike): a dry run decides lateness and absences the way cep does. */
  CEP_ALLOWED_LATENESS_MS: z.coerce.number().int().min(0).max(3_600_000).default(30_000),
  /** A replay is promoted only once its lag (records of fleet.telemetry still to read, all partitions) is at most this. */
  REPLAY_PROMOTE_MAX_LAG: z.coerce.number().int().min(0).default(1_000),
  /** How long a promotion waits for the live job's consumer group to stop before it rolls back (503). */
  REPLAY_PROMOTE_STOP_TIMEOUT_MS: z.coerce.number().int().min(1_000).max(600_000).default(60_000),
  /** A diff reads both versions' alerts whole: more in either index is refused (422). */
  REPLAY_DIFF_MAX_ALERTS: positiveInt(200_000),
});

export const simulatorEnvSchema = z.object({
  ...common,
  ...mqtt,
  SIMULATOR_VEHICLES: z.coerce.number().int().min(1).max(50_000).default(5),
  /** synthetic: physics and drive cycles; carobd: the recorded drives of SIMULATOR_CAROBD_DIR, time-shifted to now. */
  SIMULATOR_SOURCE: z.enum(['synthetic', 'carobd']).default('synthetic'),
  SIMULATOR_CAROBD_DIR: z.string().min(1).default('../shared/data/carobd'),
  SIMULATOR_QOS: z.coerce
    .number()
    .int()
    .refine((qos) => qos === 0 || qos === 1, 'must be 0 or 1')
    .default(1),
  /** MQTT connections the vehicles are spread over (a real fleet has one per device; one carries load fine). */
  SIMULATOR_CONNECTIONS: z.coerce.number().int().min(1).max(256).default(1),
  /** Publications awaiting the broker's acknowledgement beyond which a vehicle's message is skipped (and counted). */
  SIMULATOR_MAX_IN_FLIGHT: positiveInt(50_000),
  /** Share of synthetic vehicles with a fault (overheat, harsh braking, DTC, fuel theft, offline, bad payloads). */
  SIMULATOR_FAULT_SHARE: z.coerce.number().min(0).max(1).default(0),
  /** Seconds between two fault episodes of one vehicle; longer than the longest episode (16 min of fuel theft). */
  SIMULATOR_FAULT_EVERY_S: z.coerce.number().int().min(1200).default(1800),
  SIMULATOR_FLEET_ID: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/)
    .default('demo'),
  /** Messages per second per vehicle. */
  SIMULATOR_RATE_HZ: z.coerce.number().positive().max(100).default(1),
  SIMULATOR_PROFILE: z.enum(['mixed', 'urban', 'highway']).default('mixed'),
  /** Stop after this many seconds; 0 runs until interrupted. */
  SIMULATOR_DURATION_S: z.coerce.number().int().min(0).default(0),
});

/** Tools that read the log, such as `fleetlog telemetry`. */
export const logReaderEnvSchema = z.object({
  FLEETLOG_NAMESPACE: common.FLEETLOG_NAMESPACE,
  ...kafka,
});

export type GatewayConfig = z.infer<typeof gatewayEnvSchema>;
export type CepConfig = z.infer<typeof cepEnvSchema>;
export type NotifierConfig = z.infer<typeof notifierEnvSchema>;
export type ApiConfig = z.infer<typeof apiEnvSchema>;
export type SimulatorConfig = z.infer<typeof simulatorEnvSchema>;

export const envSchemasByApp = {
  gateway: gatewayEnvSchema,
  cep: cepEnvSchema,
  notifier: notifierEnvSchema,
  api: apiEnvSchema,
  simulator: simulatorEnvSchema,
} as const;
