// No test starts a container, so these hold docker/ to the contracts it must keep as the code moves on: the env
// schemas, the ports the apps and servers listen on, the pinned server versions and the topic scheme the broker's
// ACL protects. They read the files as written.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { envSchemasByApp, gatewayEnvSchema, loadConfig } from '@fleetlog/config';
import { deviceTopicFilter, deviceTopicFor } from '@fleetlog/telemetry';
import { parsePinnedVersions } from '../../tools/stack/stack-config.ts';

type AppName = keyof typeof envSchemasByApp;
type AppConfig = Record<string, unknown>;
type EnvValue = string | number | boolean | null;

interface ComposeService {
  image?: string;
  build?: { context?: string; dockerfile?: string };
  environment?: Record<string, EnvValue>;
  ports?: string[];
  volumes?: string[];
  healthcheck?: { test?: string | string[] };
  depends_on?: Record<string, { condition?: string }>;
  profiles?: string[];
  restart?: string;
  entrypoint?: string[];
}

const repoRoot = resolve(__dirname, '..', '..');
const dockerDir = join(repoRoot, 'docker');
const readRepoFile = (path: string) => readFileSync(join(repoRoot, path), 'utf8');

// Docker Compose honours YAML merge keys (`<<: *app`), which YAML 1.2 parsers leave off by default.
const compose = parse(readRepoFile('docker/docker-compose.yml'), { merge: true }) as {
  services: Record<string, ComposeService>;
};
const appNames = Object.keys(envSchemasByApp) as AppName[];
const hostEnv = { GATEWAY_MQTT_PASSWORD: 'a1b2c3d4e5f6', SIMULATOR_MQTT_PASSWORD: 'f6e5d4c3b2a1' };
const serverAddressVariables = ['KAFKA_BROKERS', 'ELASTICSEARCH_URL', 'MQTT_URL'] as const;

function service(name: string): ComposeService {
  const found = compose.services[name];
  if (!found) throw new Error(`docker-compose.yml has no service "${name}"`);
  return found;
}

/** Compose's `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`, `${VAR?error}` and `$$`. */
function interpolate(value: string, host: Record<string, string>): string {
  return value.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])([^}]*))?\}/g,
    (whole, name?: string, colon?: string, operator?: string, operand?: string) => {
      if (name === undefined) return '$';
      const hostValue = host[name];
      const missing = hostValue === undefined || (colon === ':' && hostValue === '');
      if (!missing) return hostValue;
      if (operator === '?') throw new Error(`${whole}: ${name} is required`);
      return operator === '-' ? (operand ?? '') : '';
    },
  );
}

/** The environment Compose would give the service's container. A key without a value passes the host's through, or stays unset. */
function serviceEnv(name: string, host: Record<string, string> = hostEnv): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(service(name).environment ?? {})) {
    if (value === null) {
      if (host[key] !== undefined) env[key] = host[key];
    } else {
      env[key] = interpolate(String(value), host);
    }
  }
  return env;
}

/** ENV of the Dockerfile's last stage, the image every app service runs. */
function imageEnv(): Record<string, string> {
  const stages = readRepoFile('docker/Dockerfile')
    .replace(/\\\n/g, ' ')
    .split(/^FROM /m);
  const env: Record<string, string> = {};
  for (const line of (stages.at(-1) ?? '').split('\n').filter((text) => text.startsWith('ENV '))) {
    for (const pair of line.slice('ENV '.length).trim().split(/\s+/)) {
      const [key, value] = pair.split('=');
      if (key && value !== undefined) env[key] = value;
    }
  }
  return env;
}

/** What the app's schema makes of its container's environment: the image's ENV overlaid by the service's. */
function appConfig(app: AppName, host: Record<string, string> = hostEnv): AppConfig {
  return loadConfig(envSchemasByApp[app], { ...imageEnv(), ...serviceEnv(app, host) }) as AppConfig;
}

function healthcheckPort(name: string): number | undefined {
  const test = [service(name).healthcheck?.test ?? []].flat().join(' ');
  const match = /https?:\/\/(?:127\.0\.0\.1|localhost):(\d+)\//.exec(test);
  return match ? Number(match[1]) : undefined;
}

/** Container side of each `ports` entry ("127.0.0.1:3000:3000", "8883:8883/tcp"). */
function publishedContainerPorts(name: string): number[] {
  return (service(name).ports ?? []).map((entry) => Number(entry.split(':').at(-1)?.split('/')[0]));
}

function meaningfulLines(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

interface MosquittoListener {
  port: number;
  tls: boolean;
}

function mosquittoConf() {
  const options = new Map<string, string>();
  const listeners: MosquittoListener[] = [];
  for (const line of meaningfulLines(readRepoFile('docker/mosquitto/mosquitto.conf'))) {
    const [key = '', ...rest] = line.split(/\s+/);
    if (key === 'listener') listeners.push({ port: Number(rest[0]), tls: false });
    else if (key === 'certfile' && listeners.length > 0) listeners[listeners.length - 1]!.tls = true;
    else options.set(key, rest.join(' '));
  }
  return { options, listeners };
}

interface AclGrant {
  access: string;
  topic: string;
}

function mosquittoAcl() {
  const patterns: AclGrant[] = [];
  const topicsByUser = new Map<string | undefined, AclGrant[]>();
  let user: string | undefined;
  for (const line of meaningfulLines(readRepoFile('docker/mosquitto/acl'))) {
    const [keyword, ...rest] = line.split(/\s+/);
    if (keyword === 'user') {
      user = rest.join(' ');
      continue;
    }
    const grant =
      rest.length > 1
        ? { access: rest[0]!, topic: rest.slice(1).join(' ') }
        : { access: 'readwrite', topic: rest[0]! };
    if (keyword === 'pattern') patterns.push(grant);
    else if (keyword === 'topic') topicsByUser.set(user, [...(topicsByUser.get(user) ?? []), grant]);
    else throw new Error(`Unexpected line in docker/mosquitto/acl: ${line}`);
  }
  return { patterns, topicsByUser };
}

/** host:port addresses a service answers on inside the compose network, from its own configuration. */
function listeningAddresses(name: string): { address: string; tls: boolean }[] {
  if (name === 'kafka') {
    // Clients are redirected to the advertised listeners, so those are the addresses that work.
    const advertised = String(service('kafka').environment?.KAFKA_ADVERTISED_LISTENERS ?? '');
    return advertised.split(',').map((listener) => ({ address: listener.split('://')[1] ?? '', tls: false }));
  }
  if (name === 'elasticsearch') {
    return [{ address: `elasticsearch:${healthcheckPort('elasticsearch')}`, tls: false }];
  }
  if (name === 'mosquitto') {
    return mosquittoConf().listeners.map((listener) => ({
      address: `mosquitto:${listener.port}`,
      tls: listener.tls,
    }));
  }
  return [];
}

interface ServerTarget {
  variable: string;
  host: string;
  port: number;
  tls: boolean;
}

/** Every server an app is configured to reach, as host:port, with whether it is reached over TLS. */
function serverTargets(app: AppName): ServerTarget[] {
  const config = appConfig(app);
  return serverAddressVariables
    .filter((variable) => variable in envSchemasByApp[app].shape)
    .flatMap((variable): ServerTarget[] => {
      if (variable === 'KAFKA_BROKERS') {
        return (config.KAFKA_BROKERS as string[]).map((broker) => {
          const [host = '', port] = broker.split(':');
          return { variable, host, port: Number(port), tls: false };
        });
      }
      const url = new URL(String(config[variable]));
      const defaultPort = { 'http:': 80, 'https:': 443, 'mqtt:': 1883, 'mqtts:': 8883 }[url.protocol] ?? 0;
      const tls = url.protocol === 'https:' || url.protocol === 'mqtts:';
      return [{ variable, host: url.hostname, port: Number(url.port || defaultPort), tls }];
    });
}

const majorMinor = (version: string) => version.split('.').slice(0, 2).join('.');
const imageTag = (name: string) => service(name).image?.split(':').at(-1) ?? '';

describe('docker/docker-compose.yml', () => {
  it('builds every app from docker/Dockerfile and selects it with APP set to the service name', () => {
    for (const app of appNames) {
      const { build, environment } = service(app);
      expect({ app, dockerfile: build?.dockerfile, APP: environment?.APP }).toEqual({
        app,
        dockerfile: 'docker/Dockerfile',
        APP: app,
      });
      expect(existsSync(resolve(dockerDir, build?.context ?? '.', build?.dockerfile ?? ''))).toBe(true);
    }
  });

  it('uses an image entrypoint that accepts exactly the apps that have an env schema', () => {
    const entrypoint = /^ENTRYPOINT (.+)$/m.exec(readRepoFile('docker/Dockerfile'))?.[1] ?? '[]';
    const script = (JSON.parse(entrypoint) as string[]).at(-1) ?? '';
    const accepted = /case "\$APP" in ([^)]+)\)/
      .exec(script)?.[1]
      ?.split('|')
      .map((name) => name.trim());
    expect(accepted?.sort()).toEqual([...appNames].sort());
  });

  it('sets only variables that the app reads, so a misspelt name cannot be silently ignored', () => {
    for (const app of appNames) {
      const unknown = Object.keys(service(app).environment ?? {}).filter(
        (key) => key !== 'APP' && !(key in envSchemasByApp[app].shape),
      );
      expect({ app, unknown }).toEqual({ app, unknown: [] });
    }
  });

  it('gives every app a configuration its schema accepts', () => {
    for (const app of appNames) expect(() => appConfig(app)).not.toThrow();
  });

  it('points every server address an app reads at a compose service, on a port that service listens on', () => {
    for (const app of appNames) {
      const targets = serverTargets(app);
      expect({ app, servers: targets.length > 0 }).toEqual({ app, servers: true });
      // A variable left to its schema default names 127.0.0.1, which is no compose service: that fails here too.
      for (const { variable, host, port, tls } of targets) {
        expect({ app, variable, host, known: host in compose.services }).toEqual({
          app,
          variable,
          host,
          known: true,
        });
        expect(listeningAddresses(host)).toContainEqual({ address: `${host}:${port}`, tls });
      }
    }
  });

  it('starts each app only after the servers it talks to report healthy', () => {
    for (const app of appNames) {
      for (const { host } of serverTargets(app)) {
        expect({ app, host, dependency: service(app).depends_on?.[host] }).toEqual({
          app,
          host,
          dependency: { condition: 'service_healthy' },
        });
        expect(service(host).healthcheck?.test).toBeDefined();
      }
    }
  });

  it('listens on all interfaces and publishes and health-checks the HTTP_PORT each app actually gets', () => {
    for (const app of appNames.filter((name) => 'HTTP_PORT' in envSchemasByApp[name].shape)) {
      const config = appConfig(app);
      expect({ app, HTTP_HOST: config.HTTP_HOST }).toEqual({ app, HTTP_HOST: '0.0.0.0' });
      expect({ app, healthcheck: healthcheckPort(app) }).toEqual({ app, healthcheck: config.HTTP_PORT });
      expect({ app, published: publishedContainerPorts(app) }).toEqual({
        app,
        published: [config.HTTP_PORT],
      });
    }
  });

  it('keeps the simulator out of a default start, behind the demo profile', () => {
    expect(service('simulator').profiles).toEqual(['demo']);
    const profiled = appNames.filter((app) => app !== 'simulator' && service(app).profiles !== undefined);
    expect(profiled).toEqual([]);
  });

  it('refuses to start the gateway without GATEWAY_MQTT_PASSWORD rather than log in with an empty password', () => {
    expect(() => serviceEnv('gateway', {})).toThrow(/GATEWAY_MQTT_PASSWORD/);
  });

  it('leaves WEBHOOK_URL and WEBHOOK_SECRET unset, not empty, when the host does not set them, so the notifier starts', () => {
    expect(serviceEnv('notifier', {})).not.toHaveProperty('WEBHOOK_URL');
    expect(serviceEnv('notifier', {})).not.toHaveProperty('WEBHOOK_SECRET');
    expect(() => appConfig('notifier', {})).not.toThrow();
    const webhook = { WEBHOOK_URL: 'https://hooks.example.com/fleetlog', WEBHOOK_SECRET: 'x'.repeat(32) };
    expect(appConfig('notifier', webhook)).toMatchObject(webhook);
  });

  it('runs Kafka and Elasticsearch at the major.minor versions tools/stack pins, and Kibana at the same version as Elasticsearch', () => {
    const pinned = parsePinnedVersions(readRepoFile('tools/stack/servers.pom.xml'));
    expect(service('kafka').image).toMatch(/^apache\/kafka:/);
    expect(majorMinor(imageTag('kafka'))).toBe(majorMinor(pinned.kafka));
    expect(service('elasticsearch').image).toMatch(/^docker\.elastic\.co\/elasticsearch\/elasticsearch:/);
    expect(majorMinor(imageTag('elasticsearch'))).toBe(majorMinor(pinned.elasticsearch));
    expect(service('kibana').image).toMatch(/^docker\.elastic\.co\/kibana\/kibana:/);
    expect(imageTag('kibana')).toBe(imageTag('elasticsearch'));
  });

  it('imports the saved objects of docker/kibana once Kibana is healthy, through the import API with overwrite, and stops', () => {
    const setup = service('kibana-setup');
    expect(setup.image).toBe(service('kibana').image);
    expect(setup.depends_on?.kibana).toEqual({ condition: 'service_healthy' });
    expect(setup.restart).toBe('no');
    const mountTarget = setup.volumes?.find((volume) => volume.startsWith('./kibana:'))?.split(':')[1] ?? '';
    const script = setup.entrypoint?.at(-1) ?? '';
    expect(script.startsWith(`${mountTarget}/`)).toBe(true);
    const scriptText = readRepoFile(join('docker/kibana', script.slice(mountTarget.length + 1)));
    expect(scriptText).toContain('/api/saved_objects/_import?overwrite=true');
    expect(scriptText).toContain('kbn-xsrf');
    // The file it imports unless told otherwise sits beside it; Kibana accepts only the .ndjson extension.
    const importedFile = /\$\(dirname "\$0"\)\/([\w.-]+\.ndjson)/.exec(scriptText)?.[1] ?? '';
    expect(importedFile).toMatch(/\.ndjson$/);
    expect(existsSync(join(dockerDir, 'kibana', importedFile))).toBe(true);
    const kibanaUrl = new URL(serviceEnv('kibana-setup').KIBANA_URL ?? '');
    expect({ host: kibanaUrl.hostname, port: Number(kibanaUrl.port) }).toEqual({
      host: 'kibana',
      port: healthcheckPort('kibana'),
    });
  });

  it('runs Mosquitto 2.0, whose verbatim %u substitution the device ACL relies on', () => {
    expect(service('mosquitto').image).toMatch(/^eclipse-mosquitto:2\.0\.\d+$/);
  });
});

describe('docker/mosquitto', () => {
  it('lets a device write only to its own fleet and vehicle topics, named by its "<fleetId>/<vehicleId>" username', () => {
    const { patterns, topicsByUser } = mosquittoAcl();
    expect(patterns).toEqual([
      { access: 'write', topic: 'fleet/%u/telemetry' },
      { access: 'write', topic: 'fleet/%u/dtc' },
      { access: 'write', topic: 'fleet/%u/status' },
    ]);
    const device = { fleetId: 'acme', vehicleId: 'truck-7' };
    const username = `${device.fleetId}/${device.vehicleId}`;
    expect(patterns.map(({ topic }) => topic.replace('%u', username))).toEqual([
      deviceTopicFor(device, 'telemetry'),
      deviceTopicFor(device, 'dtc'),
      deviceTopicFor(device, 'status'),
    ]);
    // Grants outside a user section would apply to anonymous clients.
    expect(topicsByUser.get(undefined)).toBeUndefined();
  });

  it('lets the gateway read exactly the device topics it subscribes to, and write nothing', () => {
    expect(mosquittoAcl().topicsByUser.get('gateway')).toEqual([
      { access: 'read', topic: deviceTopicFilter },
    ]);
    expect(new URL(appConfig('gateway').MQTT_URL as string).username).toBe('gateway');
  });

  it('confines the demo simulator to the fleet it is configured to simulate', () => {
    const config = appConfig('simulator');
    expect(new URL(config.MQTT_URL as string).username).toBe('simulator');
    expect(mosquittoAcl().topicsByUser.get('simulator')).toEqual([
      { access: 'write', topic: `fleet/${config.SIMULATOR_FLEET_ID}/+/telemetry` },
    ]);
  });

  it('requires a password and applies the ACL on every listener, from the files compose mounts', () => {
    const { options } = mosquittoConf();
    expect(options.get('per_listener_settings')).toBe('false');
    expect(options.get('allow_anonymous')).toBe('false');
    expect(options.get('password_file')).toBe('/mosquitto/config/passwords');
    expect(options.get('acl_file')).toBe('/mosquitto/config/acl');
    expect(service('mosquitto').volumes).toContain('./mosquitto:/mosquitto/config:ro');
  });

  it('refuses payloads larger than the gateway accepts by default', () => {
    const { GATEWAY_MAX_PAYLOAD_BYTES } = loadConfig(gatewayEnvSchema, {});
    expect(Number(mosquittoConf().options.get('message_size_limit'))).toBe(GATEWAY_MAX_PAYLOAD_BYTES);
  });
});
