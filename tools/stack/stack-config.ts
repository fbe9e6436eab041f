// Pure pieces of the local stack: option parsing, layout and config rendering.
// Nothing here touches the disk, the network or child processes, so it is unit-testable as is.
import { join, resolve } from 'node:path';

export class StackError extends Error {
  override name = 'StackError';
}

export type ServiceName = 'kafka' | 'elasticsearch' | 'mosquitto';

export const SERVICE_NAMES: readonly ServiceName[] = ['kafka', 'elasticsearch', 'mosquitto'];

/** The variable that moves each server to other ports, for messages that suggest it. */
export const PORT_VARIABLES: Record<ServiceName, string> = {
  kafka: 'FLEETLOG_KAFKA_PORT',
  elasticsearch: 'FLEETLOG_ELASTICSEARCH_PORT',
  mosquitto: 'FLEETLOG_MQTT_PORT',
};

export interface StackEndpoints {
  kafkaBrokers: string;
  elasticsearchUrl: string;
  mqttUrl: string;
}

export interface StackOptions {
  cacheDir?: string;
  runDir?: string;
  kafkaPort?: number;
  elasticsearchPort?: number;
  mqttPort?: number;
  /** How long `stackUp` waits for each server to answer; Elasticsearch's first start is the slow one. */
  readyTimeoutMs?: number;
  log?: (line: string) => void;
}

/** Every path and port of one stack, with the defaults filled in. */
export interface StackLayout {
  cacheDir: string;
  runDir: string;
  kafkaPort: number;
  kafkaControllerPort: number;
  elasticsearchPort: number;
  elasticsearchTransportPort: number;
  mqttPort: number;
  readyTimeoutMs: number;
}

export const LOOPBACK = '127.0.0.1';
const DEFAULT_READY_TIMEOUT_MS = 180_000;

export function stackOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): StackOptions {
  const options: StackOptions = {};
  const cacheDir = nonEmpty(env.FLEETLOG_CACHE_DIR);
  const runDir = nonEmpty(env.FLEETLOG_STACK_DIR);
  if (cacheDir !== undefined) options.cacheDir = cacheDir;
  if (runDir !== undefined) options.runDir = runDir;
  const kafkaPort = parsePortVariable(env, PORT_VARIABLES.kafka);
  const elasticsearchPort = parsePortVariable(env, PORT_VARIABLES.elasticsearch);
  const mqttPort = parsePortVariable(env, PORT_VARIABLES.mosquitto);
  if (kafkaPort !== undefined) options.kafkaPort = kafkaPort;
  if (elasticsearchPort !== undefined) options.elasticsearchPort = elasticsearchPort;
  if (mqttPort !== undefined) options.mqttPort = mqttPort;
  const readyTimeout = nonEmpty(env.FLEETLOG_STACK_READY_TIMEOUT_MS);
  if (readyTimeout !== undefined) {
    options.readyTimeoutMs = parsePositiveInteger('FLEETLOG_STACK_READY_TIMEOUT_MS', readyTimeout);
  }
  return options;
}

export function resolveLayout(
  options: StackOptions,
  machine: { env: NodeJS.ProcessEnv; homeDir: string },
): StackLayout {
  const cacheRoot = nonEmpty(machine.env.XDG_CACHE_HOME) ?? join(machine.homeDir, '.cache');
  // Absolute, because the paths end up in config files and in the environment of the servers.
  const cacheDir = resolve(options.cacheDir ?? join(cacheRoot, 'fleetlog'));
  const kafkaPort = options.kafkaPort ?? 9092;
  const elasticsearchPort = options.elasticsearchPort ?? 9200;
  const layout: StackLayout = {
    cacheDir,
    runDir: resolve(options.runDir ?? join(cacheDir, 'run')),
    kafkaPort,
    // Derived rather than configurable so one variable moves a whole server out of the way.
    kafkaControllerPort: kafkaPort + 1,
    elasticsearchPort,
    elasticsearchTransportPort: elasticsearchPort + 100,
    mqttPort: options.mqttPort ?? 1883,
    readyTimeoutMs: options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS,
  };
  for (const port of [layout.kafkaControllerPort, layout.elasticsearchTransportPort]) {
    assertPortInRange(port, 'a port derived from FLEETLOG_KAFKA_PORT / FLEETLOG_ELASTICSEARCH_PORT');
  }
  return layout;
}

export function stackEndpoints(layout: StackLayout): StackEndpoints {
  return {
    kafkaBrokers: `${LOOPBACK}:${layout.kafkaPort}`,
    elasticsearchUrl: `http://${LOOPBACK}:${layout.elasticsearchPort}`,
    mqttUrl: `mqtt://${LOOPBACK}:${layout.mqttPort}`,
  };
}

/** The ports a service binds: all must be free before it starts. */
export function servicePorts(layout: StackLayout, service: ServiceName): number[] {
  switch (service) {
    case 'kafka':
      return [layout.kafkaPort, layout.kafkaControllerPort];
    case 'elasticsearch':
      return [layout.elasticsearchPort, layout.elasticsearchTransportPort];
    case 'mosquitto':
      return [layout.mqttPort];
  }
}

export function serviceEndpoint(layout: StackLayout, service: ServiceName): string {
  const endpoints = stackEndpoints(layout);
  switch (service) {
    case 'kafka':
      return endpoints.kafkaBrokers;
    case 'elasticsearch':
      return endpoints.elasticsearchUrl;
    case 'mosquitto':
      return endpoints.mqttUrl;
  }
}

export interface PinnedVersions {
  kafka: string;
  elasticsearch: string;
}

/** Reads the versions out of servers.pom.xml, the one place they are pinned. */
export function parsePinnedVersions(pomXml: string): PinnedVersions {
  return {
    kafka: pomProperty(pomXml, 'kafka.version'),
    elasticsearch: pomProperty(pomXml, 'elasticsearch.version'),
  };
}

export interface JavaRuntime {
  javaHome: string;
  majorVersion: number;
}

/** Parses `java -XshowSettings:properties -version`, which prints to stderr. */
export function parseJavaSettings(output: string): JavaRuntime {
  const javaHome = settingValue(output, 'java.home');
  const specificationVersion = settingValue(output, 'java.specification.version');
  if (javaHome === undefined || specificationVersion === undefined) {
    throw new StackError(
      `Could not read java.home and the Java version from \`java -XshowSettings:properties -version\`:\n${output}`,
    );
  }
  // Java 8 and older report "1.8"; everything since reports the major version alone.
  const parts = specificationVersion.split('.').map(Number);
  const majorVersion = parts[0] === 1 ? (parts[1] ?? 0) : (parts[0] ?? 0);
  return { javaHome, majorVersion };
}

export function renderKafkaServerProperties(layout: StackLayout, dataDir: string): string {
  const plaintext = `${LOOPBACK}:${layout.kafkaPort}`;
  const controller = `${LOOPBACK}:${layout.kafkaControllerPort}`;
  return lines([
    '# Written by tools/stack/local-stack.ts on every start; edits are overwritten.',
    '# One KRaft node that is both broker and controller.',
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@${controller}`,
    `listeners=PLAINTEXT://${plaintext},CONTROLLER://${controller}`,
    `advertised.listeners=PLAINTEXT://${plaintext}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    `log.dirs=${dataDir}`,
    '# A single broker cannot hold more than one replica of the internal topics.',
    'offsets.topic.replication.factor=1',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    '# Tests start consumers right away; the default 3 s delay would only slow them down.',
    'group.initial.rebalance.delay.ms=0',
    'num.partitions=3',
    '# Topics are created explicitly by the services, as in production.',
    'auto.create.topics.enable=false',
  ]);
}

export function renderKafkaLog4jProperties(logFile: string): string {
  return lines([
    '# Kafka 3.9 logs through slf4j -> reload4j. Same file as the JVM stdout/stderr, both append,',
    '# so start-up crashes and broker logs read in order.',
    'log4j.rootLogger=INFO, file',
    'log4j.appender.file=org.apache.log4j.FileAppender',
    `log4j.appender.file.File=${logFile}`,
    'log4j.appender.file.Append=true',
    'log4j.appender.file.layout=org.apache.log4j.PatternLayout',
    'log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n',
    '# cep and the notifier commit offsets in a transaction when a batch produces and plainly when not (one round',
    '# trip instead of four). The coordinator orders the two by their place in its log, but warns on every commit of',
    '# a group that has used both: 121,000 lines, most of a 443 MB log, after a day of tests and benches.',
    'log4j.logger.kafka.coordinator.group.GroupMetadataManager=ERROR',
  ]);
}

export function renderElasticsearchYml(
  layout: StackLayout,
  dirs: { dataDir: string; logsDir: string },
): string {
  return lines([
    '# Written by tools/stack/local-stack.ts on every start; edits are overwritten.',
    'cluster.name: fleetlog-local',
    'node.name: fleetlog-local',
    `path.data: ${dirs.dataDir}`,
    `path.logs: ${dirs.logsDir}`,
    `network.host: ${LOOPBACK}`,
    `http.port: ${layout.elasticsearchPort}`,
    `transport.port: ${layout.elasticsearchTransportPort}`,
    '# Elects itself master at once instead of waiting for other nodes to be discovered.',
    'discovery.type: single-node',
    '# Plain HTTP without users: a throwaway server reachable from this machine only.',
    'xpack.security.enabled: false',
    '# Developer disks are often more than 90% full; the default watermarks would then refuse to',
    '# allocate shards and new indices would stay red.',
    'cluster.routing.allocation.disk.threshold_enabled: false',
  ]);
}

export function renderMosquittoConf(
  layout: StackLayout,
  files: { persistenceDir: string; logFile: string; user: string },
): string {
  return lines([
    '# Written by tools/stack/local-stack.ts on every start; edits are overwritten.',
    `listener ${layout.mqttPort} ${LOOPBACK}`,
    'allow_anonymous true',
    '# Started as root, mosquitto would switch to the `mosquitto` user, which cannot reach a cache',
    "# inside root's home. Naming the launching user keeps it as is (ignored when not root).",
    `user ${files.user}`,
    'persistence true',
    `persistence_location ${files.persistenceDir}`,
    '# The in-memory state is written to disk only every autosave interval (and on a clean stop),',
    '# so a crash loses up to that many seconds of retained messages and queued QoS 1/2 messages.',
    'autosave_interval 1',
    '# Test bursts to offline persistent sessions must not be dropped at the default limit of 1000.',
    'max_queued_messages 100000',
    '# 0 = no limit on QoS 1/2 messages in flight per client, so throughput is not capped at 20.',
    'max_inflight_messages 0',
    `log_dest file ${files.logFile}`,
    '# Connections and errors, but not the information level, which logs every autosave.',
    'log_type error',
    'log_type warning',
    'log_type notice',
    'log_timestamp_format %Y-%m-%dT%H:%M:%S',
  ]);
}

export function lastLines(text: string, count: number): string {
  const allLines = text.replace(/\n$/, '').split('\n');
  return allLines.slice(-count).join('\n');
}

function pomProperty(pomXml: string, name: string): string {
  const escaped = name.replace(/\./g, '\\.');
  const match = new RegExp(`<${escaped}>\\s*([^<\\s]+)\\s*</${escaped}>`).exec(pomXml);
  if (match?.[1] === undefined) {
    throw new StackError(`servers.pom.xml has no <${name}> property.`);
  }
  return match[1];
}

function settingValue(output: string, key: string): string | undefined {
  const escaped = key.replace(/\./g, '\\.');
  return new RegExp(`^\\s*${escaped} = (.+)$`, 'm').exec(output)?.[1]?.trim();
}

function parsePortVariable(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const value = nonEmpty(env[name]);
  if (value === undefined) return undefined;
  const port = parsePositiveInteger(name, value);
  assertPortInRange(port, name);
  return port;
}

function parsePositiveInteger(name: string, value: string): number {
  if (!/^\d+$/.test(value) || Number(value) === 0) {
    throw new StackError(`${name} must be a positive whole number, got "${value}".`);
  }
  return Number(value);
}

function assertPortInRange(port: number, source: string): void {
  if (port < 1 || port > 65535) {
    throw new StackError(`Port ${port} (${source}) is outside 1-65535.`);
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function lines(content: string[]): string {
  return `${content.join('\n')}\n`;
}
