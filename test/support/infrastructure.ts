import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface Endpoints {
  KAFKA_BROKERS: string;
  ELASTICSEARCH_URL: string;
  MQTT_URL: string;
}

export interface Infrastructure {
  endpoints: Endpoints;
  /** How the servers were found: named by the environment, containers, or the project's local stack. */
  source: 'environment' | 'testcontainers' | 'local-stack';
  release(): Promise<void>;
}

/**
 * Real servers for the integration tier, in order of preference: endpoints named by KAFKA_BROKERS,
 * ELASTICSEARCH_URL and MQTT_URL; containers when a Docker engine answers; else the local stack (started here
 * and stopped afterwards, unless it was already running or FLEETLOG_KEEP_STACK=1).
 */
export async function acquireInfrastructure(env: NodeJS.ProcessEnv): Promise<Infrastructure> {
  const { KAFKA_BROKERS, ELASTICSEARCH_URL, MQTT_URL } = env;
  if (KAFKA_BROKERS && ELASTICSEARCH_URL && MQTT_URL) {
    return {
      endpoints: { KAFKA_BROKERS, ELASTICSEARCH_URL, MQTT_URL },
      source: 'environment',
      release: async () => {},
    };
  }
  if (await dockerEngineAnswers()) return startContainers();
  return startLocalStack(env.FLEETLOG_KEEP_STACK === '1');
}

async function dockerEngineAnswers(): Promise<boolean> {
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}

async function startContainers(): Promise<Infrastructure> {
  const [{ KafkaContainer }, { ElasticsearchContainer }, { MosquittoContainer }] = await Promise.all([
    import('@testcontainers/kafka'),
    import('@testcontainers/elasticsearch'),
    import('@testcontainers/mosquitto'),
  ]);
  const [kafka, elasticsearch, mosquitto] = await Promise.all([
    new KafkaContainer('confluentinc/cp-kafka:7.9.2').withKraft().start(),
    new ElasticsearchContainer('docker.elastic.co/elasticsearch/elasticsearch:8.19.7')
      .withEnvironment({ 'xpack.security.enabled': 'false' })
      .start(),
    new MosquittoContainer('eclipse-mosquitto:2.0.22').start(),
  ]);
  return {
    endpoints: {
      KAFKA_BROKERS: `${kafka.getHost()}:${kafka.getMappedPort(9093)}`,
      ELASTICSEARCH_URL: `http://${elasticsearch.getHost()}:${elasticsearch.getMappedPort(9200)}`,
      MQTT_URL: mosquitto.getConnectionString(),
    },
    source: 'testcontainers',
    release: async () => {
      await Promise.all([kafka.stop(), elasticsearch.stop(), mosquitto.stop()]);
    },
  };
}

const stackCli = ['--disable-warning=TimeoutNegativeWarning', 'tools/stack/cli.ts'];

async function startLocalStack(keep: boolean): Promise<Infrastructure> {
  const { stdout: status } = await run(process.execPath, [...stackCli, 'status']);
  const alreadyRunning = status.split('\n').filter((line) => /\sready\s/.test(line)).length === 3;
  const { stdout } = await run(process.execPath, [...stackCli, 'up'], { maxBuffer: 10 * 1024 * 1024 });
  const endpoints = Object.fromEntries(
    stdout
      .split('\n')
      .filter((line) => line.includes('='))
      .map((line) => line.split('=', 2) as [string, string]),
  ) as unknown as Endpoints;
  return {
    endpoints,
    source: 'local-stack',
    release: async () => {
      if (!alreadyRunning && !keep) await run(process.execPath, [...stackCli, 'down']);
    },
  };
}
