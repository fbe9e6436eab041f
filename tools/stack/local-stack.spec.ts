import {
  lastLines,
  parseJavaSettings,
  parsePinnedVersions,
  renderElasticsearchYml,
  renderKafkaServerProperties,
  renderMosquittoConf,
  resolveLayout,
  serviceEndpoint,
  servicePorts,
  StackError,
  stackEndpoints,
  stackOptionsFromEnv,
} from './stack-config.ts';

const machine = { env: {}, homeDir: '/home/dev' };

describe('stackOptionsFromEnv', () => {
  it('reads directories and ports', () => {
    const options = stackOptionsFromEnv({
      FLEETLOG_CACHE_DIR: '/var/cache/fl',
      FLEETLOG_STACK_DIR: '/tmp/stack',
      FLEETLOG_KAFKA_PORT: '19092',
      FLEETLOG_ELASTICSEARCH_PORT: '19200',
      FLEETLOG_MQTT_PORT: '11883',
      FLEETLOG_STACK_READY_TIMEOUT_MS: '5000',
    });
    expect(options).toEqual({
      cacheDir: '/var/cache/fl',
      runDir: '/tmp/stack',
      kafkaPort: 19092,
      elasticsearchPort: 19200,
      mqttPort: 11883,
      readyTimeoutMs: 5000,
    });
  });

  it('treats unset and blank variables as defaults', () => {
    expect(stackOptionsFromEnv({ FLEETLOG_KAFKA_PORT: ' ' })).toEqual({});
  });

  it.each(['abc', '9092x', '0', '70000', '-1'])('rejects the port "%s" naming the variable', (value) => {
    expect(() => stackOptionsFromEnv({ FLEETLOG_MQTT_PORT: value })).toThrow(StackError);
    expect(() => stackOptionsFromEnv({ FLEETLOG_MQTT_PORT: value })).toThrow(/FLEETLOG_MQTT_PORT/);
  });
});

describe('resolveLayout', () => {
  it('defaults to ~/.cache/fleetlog with the run directory inside it', () => {
    const layout = resolveLayout({}, machine);
    expect(layout.cacheDir).toBe('/home/dev/.cache/fleetlog');
    expect(layout.runDir).toBe('/home/dev/.cache/fleetlog/run');
  });

  it('honours XDG_CACHE_HOME', () => {
    expect(resolveLayout({}, { env: { XDG_CACHE_HOME: '/xdg' }, homeDir: '/home/dev' }).cacheDir).toBe(
      '/xdg/fleetlog',
    );
  });

  it('derives the Kafka controller and Elasticsearch transport ports', () => {
    const layout = resolveLayout({ kafkaPort: 29092, elasticsearchPort: 29200, mqttPort: 21883 }, machine);
    expect(servicePorts(layout, 'kafka')).toEqual([29092, 29093]);
    expect(servicePorts(layout, 'elasticsearch')).toEqual([29200, 29300]);
    expect(servicePorts(layout, 'mosquitto')).toEqual([21883]);
  });

  it('rejects a port whose derived neighbour does not exist', () => {
    expect(() => resolveLayout({ elasticsearchPort: 65500 }, machine)).toThrow(StackError);
  });
});

describe('endpoints', () => {
  it('are all on loopback', () => {
    const layout = resolveLayout({}, machine);
    expect(stackEndpoints(layout)).toEqual({
      kafkaBrokers: '127.0.0.1:9092',
      elasticsearchUrl: 'http://127.0.0.1:9200',
      mqttUrl: 'mqtt://127.0.0.1:1883',
    });
    expect(serviceEndpoint(layout, 'mosquitto')).toBe('mqtt://127.0.0.1:1883');
  });
});

describe('parsePinnedVersions', () => {
  it('reads the version properties of servers.pom.xml', () => {
    const pom =
      '<properties>\n  <kafka.version>3.9.2</kafka.version>\n  <elasticsearch.version>8.19.21</elasticsearch.version>\n</properties>';
    expect(parsePinnedVersions(pom)).toEqual({ kafka: '3.9.2', elasticsearch: '8.19.21' });
  });

  it('names the missing property', () => {
    expect(() => parsePinnedVersions('<kafka.version>3.9.2</kafka.version>')).toThrow(
      /elasticsearch\.version/,
    );
  });
});

describe('parseJavaSettings', () => {
  const settings = (version: string) =>
    `Property settings:\n    java.home = /usr/lib/jvm/java-17-openjdk-amd64\n    java.specification.version = ${version}\n    java.vendor = Debian\n`;

  it('reads java.home and the major version', () => {
    expect(parseJavaSettings(settings('17'))).toEqual({
      javaHome: '/usr/lib/jvm/java-17-openjdk-amd64',
      majorVersion: 17,
    });
  });

  it('understands the 1.x numbering of Java 8', () => {
    expect(parseJavaSettings(settings('1.8')).majorVersion).toBe(8);
  });

  it('fails with the output it could not read', () => {
    expect(() => parseJavaSettings('Error: could not create the Java VM')).toThrow(/could not create/);
  });
});

describe('config rendering', () => {
  const layout = resolveLayout({ kafkaPort: 19092, elasticsearchPort: 19200, mqttPort: 11883 }, machine);

  it('makes one KRaft node that is broker and controller on loopback', () => {
    const properties = renderKafkaServerProperties(layout, '/run/kafka/data');
    expect(properties).toContain('process.roles=broker,controller\n');
    expect(properties).toContain('controller.quorum.voters=1@127.0.0.1:19093\n');
    expect(properties).toContain('listeners=PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093\n');
    expect(properties).toContain('advertised.listeners=PLAINTEXT://127.0.0.1:19092\n');
    expect(properties).toContain('log.dirs=/run/kafka/data\n');
    expect(properties).toContain('auto.create.topics.enable=false\n');
  });

  it('makes a single-node Elasticsearch without security on loopback', () => {
    const yml = renderElasticsearchYml(layout, { dataDir: '/run/es/data', logsDir: '/run/es/logs' });
    expect(yml).toContain('network.host: 127.0.0.1\n');
    expect(yml).toContain('http.port: 19200\n');
    expect(yml).toContain('transport.port: 19300\n');
    expect(yml).toContain('discovery.type: single-node\n');
    expect(yml).toContain('xpack.security.enabled: false\n');
  });

  it('makes a persistent anonymous Mosquitto listener on loopback', () => {
    const conf = renderMosquittoConf(layout, {
      persistenceDir: '/run/mq/data',
      logFile: '/run/mq/mosquitto.log',
      user: 'dev',
    });
    expect(conf).toContain('listener 11883 127.0.0.1\n');
    expect(conf).toContain('persistence_location /run/mq/data\n');
    expect(conf).toContain('autosave_interval 1\n');
    expect(conf).toContain('user dev\n');
  });
});

describe('lastLines', () => {
  it('keeps the end and ignores the final newline', () => {
    expect(lastLines('a\nb\nc\n', 2)).toBe('b\nc');
    expect(lastLines('only', 5)).toBe('only');
  });
});
