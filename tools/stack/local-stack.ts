// Runs Kafka (KRaft), Elasticsearch and Mosquitto as real processes on 127.0.0.1, for machines
// without a container engine. Servers are fetched once into a cache outside the repo, run detached
// with their pids in <runDir>/<service>/<service>.pid, so `stackDown` works from any later process.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';
import { access, constants, cp, mkdir, open, readFile, rm, statfs, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { homedir, userInfo } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel } from 'kafkajs';
import { connectAsync } from 'mqtt';
import {
  lastLines,
  parseJavaSettings,
  parsePinnedVersions,
  PORT_VARIABLES,
  renderElasticsearchYml,
  renderKafkaLog4jProperties,
  renderKafkaServerProperties,
  renderMosquittoConf,
  resolveLayout,
  SERVICE_NAMES,
  serviceEndpoint,
  servicePorts,
  StackError,
  stackEndpoints,
} from './stack-config.ts';
import { setAsideLargeLog } from './log-files.ts';
import type {
  JavaRuntime,
  PinnedVersions,
  ServiceName,
  StackEndpoints,
  StackLayout,
  StackOptions,
} from './stack-config.ts';

export { SERVICE_NAMES, StackError, stackOptionsFromEnv } from './stack-config.ts';
export type { ServiceName, StackEndpoints, StackOptions } from './stack-config.ts';

export interface ServiceStatus {
  service: ServiceName;
  running: boolean;
  ready: boolean;
  pid?: number;
  endpoint: string;
  logFile: string;
}

const POM_FILE = join(import.meta.dirname, 'servers.pom.xml');
const MIN_FREE_BYTES = 2 * 1024 ** 3;
const MIN_JAVA_MAJOR = 17;
const PROBE_TIMEOUT_MS = 2_000;
const PROBE_INTERVAL_MS = 500;
const STOP_TIMEOUT_MS = 30_000;
const KILL_TIMEOUT_MS = 5_000;
const ERROR_LOG_LINES = 20;
/** A server's log larger than this when it starts again is set aside (see `setAsideLargeLog`). */
const LOG_SET_ASIDE_BYTES = 64 * 1024 ** 2;
const KAFKA_HEAP = '512m';
const ELASTICSEARCH_HEAP = '512m';
// Elasticsearch refuses to start as root. Started by root, it runs in a user namespace where it is
// uid 1000 (any non-zero uid would do) while the kernel still sees root: the cache in root's 0700
// home stays readable and every file it writes stays owned by root, with no extra account.
const UNPRIVILEGED_NAMESPACE = ['--user', '--map-user=1000', '--map-group=1000', '--'];
// Set in each server's environment, so that a pid file never makes us signal a recycled pid.
const OWNER_VARIABLE = 'FLEETLOG_STACK_SERVICE_DIR';
// Debian installs mosquitto in /usr/sbin, which is not on a non-root user's PATH.
const SBIN_DIRS = ['/usr/sbin', '/usr/local/sbin'];

interface Toolchain {
  java: JavaRuntime;
  mosquittoBinary: string;
  versions: PinnedVersions;
  runningAsRoot: boolean;
}

interface ConfigFile {
  path: string;
  content: string;
}

interface LaunchPlan {
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
}

interface ServiceDefinition {
  /** Rewritten before every start; compared with what is on disk when the server already runs. */
  configFiles(layout: StackLayout): ConfigFile[];
  /** One-time storage set-up, run after the config files are written. */
  prepare(layout: StackLayout, toolchain: Toolchain, log: Logger): Promise<void>;
  launchPlan(layout: StackLayout, toolchain: Toolchain): LaunchPlan;
  /** One readiness attempt: a real client round trip, not just an open port. */
  answers(layout: StackLayout): Promise<boolean>;
}

type Logger = (line: string) => void;

export async function stackUp(options: StackOptions = {}): Promise<StackEndpoints> {
  const layout = layoutFor(options);
  const log = options.log ?? ignoreLog;
  await mkdir(layout.runDir, { recursive: true });
  const running = await runningServices(layout);
  for (const [service, pid] of running) {
    await assertConfigUnchanged(layout, service);
    log(`${service}: already running (pid ${pid})`);
  }
  const toStart = SERVICE_NAMES.filter((service) => !running.has(service));
  const started =
    toStart.length > 0 ? await startServices(layout, toStart, log) : new Map<ServiceName, number>();
  await waitUntilAllReady(layout, new Map([...running, ...started]), log);
  return stackEndpoints(layout);
}

/** Installs what `up` needs (Kafka and Elasticsearch into the cache, Mosquitto with apt) and starts nothing. */
export async function stackFetch(options: StackOptions = {}): Promise<void> {
  const layout = layoutFor(options);
  const log = options.log ?? ignoreLog;
  await assertFreeDisk(layout.cacheDir);
  await findOrInstallMosquitto(process.getuid?.() === 0, log);
  await ensureServersFetched(layout, parsePinnedVersions(await readFile(POM_FILE, 'utf8')), log);
}

export async function stackDown(options: StackOptions = {}): Promise<void> {
  const layout = layoutFor(options);
  const log = options.log ?? ignoreLog;
  await Promise.all(SERVICE_NAMES.map((service) => stopService(layout, service, log)));
}

export async function stackStatus(options: StackOptions = {}): Promise<ServiceStatus[]> {
  const layout = layoutFor(options);
  return Promise.all(
    SERVICE_NAMES.map(async (service): Promise<ServiceStatus> => {
      const pid = await runningPid(layout, service);
      const base = {
        service,
        endpoint: serviceEndpoint(layout, service),
        logFile: logFileOf(layout, service),
      };
      if (pid === undefined) return { ...base, running: false, ready: false };
      return { ...base, running: true, ready: await SERVICES[service].answers(layout), pid };
    }),
  );
}

export function serviceLogFile(service: ServiceName, options: StackOptions = {}): string {
  return logFileOf(layoutFor(options), service);
}

/** The end of a log without reading all of it: broker logs grow to many megabytes. */
export async function readLogTail(path: string, lineCount: number): Promise<string> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, Math.max(64 * 1024, lineCount * 1024));
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    return lastLines(buffer.toString('utf8'), lineCount);
  } finally {
    await handle.close();
  }
}

function layoutFor(options: StackOptions): StackLayout {
  return resolveLayout(options, { env: process.env, homeDir: homedir() });
}

function ignoreLog(): void {}

// ---------------------------------------------------------------------------------------------
// Starting

async function startServices(
  layout: StackLayout,
  services: ServiceName[],
  log: Logger,
): Promise<Map<ServiceName, number>> {
  const toolchain = await preflight(layout, services, log);
  await ensureServersFetched(layout, toolchain.versions, log);
  const pids = new Map<ServiceName, number>();
  for (const service of services) {
    pids.set(service, await startService(layout, service, toolchain, log));
  }
  return pids;
}

/** Every check that can fail for a reason the developer must fix, before anything is started. */
async function preflight(layout: StackLayout, services: ServiceName[], log: Logger): Promise<Toolchain> {
  await assertFreeDisk(layout.cacheDir);
  const java = await findJava();
  await assertPortsFree(layout, services);
  const runningAsRoot = process.getuid?.() === 0;
  if (runningAsRoot && services.includes('elasticsearch')) await assertUserNamespaces();
  const mosquittoBinary = await findOrInstallMosquitto(runningAsRoot, log);
  const versions = parsePinnedVersions(await readFile(POM_FILE, 'utf8'));
  return { java, mosquittoBinary, versions, runningAsRoot };
}

async function startService(
  layout: StackLayout,
  service: ServiceName,
  toolchain: Toolchain,
  log: Logger,
): Promise<number> {
  const definition = SERVICES[service];
  for (const file of definition.configFiles(layout)) {
    await mkdir(dirname(file.path), { recursive: true });
    await writeFile(file.path, file.content);
  }
  await definition.prepare(layout, toolchain, log);
  const logFile = logFileOf(layout, service);
  await setAsideLargeLog(logFile, LOG_SET_ASIDE_BYTES);
  const dir = serviceDir(layout, service);
  const plan = definition.launchPlan(layout, toolchain);
  const pid = spawnDetached({ ...plan, env: { ...plan.env, [OWNER_VARIABLE]: dir } }, dir, logFile);
  await writeFile(pidFileOf(layout, service), `${pid}\n`);
  log(`${service}: started (pid ${pid}), log ${logFile}`);
  return pid;
}

/** The server outlives this process: own process group, output straight into its log file. */
function spawnDetached(plan: LaunchPlan, cwd: string, logFile: string): number {
  const logFd = openSync(logFile, 'a');
  try {
    // Logs are appended across restarts until set aside; the banner tells this start's lines from older ones.
    writeSync(
      logFd,
      `\n=== started by tools/stack at ${new Date().toISOString()}: ${plan.command} ${plan.args.join(' ')}\n`,
    );
    const child = spawn(plan.command, plan.args, {
      cwd,
      env: plan.env,
      detached: true,
      stdio: ['ignore', logFd, logFd],
    });
    // A failed spawn is reported through the missing pid below; without a listener it would crash us.
    child.once('error', ignoreLog);
    if (child.pid === undefined) {
      throw new StackError(`Could not start ${plan.command} ${plan.args.join(' ')}.`);
    }
    child.unref();
    return child.pid;
  } finally {
    closeSync(logFd);
  }
}

async function waitUntilAllReady(
  layout: StackLayout,
  pids: Map<ServiceName, number>,
  log: Logger,
): Promise<void> {
  const waits = [...pids].map(([service, pid]) => waitUntilReady(layout, service, pid, log));
  // Waits for every server rather than failing on the first, so one run reports every broken one.
  const failures: unknown[] = (await Promise.allSettled(waits)).flatMap((result) =>
    result.status === 'rejected' ? [result.reason] : [],
  );
  if (failures.length === 0) return;
  const unexpected = failures.find((failure) => !(failure instanceof StackError));
  if (unexpected !== undefined) throw unexpected;
  throw new StackError(failures.map((failure) => (failure as StackError).message).join('\n\n'));
}

async function waitUntilReady(
  layout: StackLayout,
  service: ServiceName,
  pid: number,
  log: Logger,
): Promise<void> {
  const startedAt = Date.now();
  const logFile = logFileOf(layout, service);
  for (;;) {
    if (await SERVICES[service].answers(layout)) {
      log(`${service}: ready at ${serviceEndpoint(layout, service)} (${seconds(Date.now() - startedAt)})`);
      return;
    }
    if (!(await isOurProcess(pid, serviceDir(layout, service)))) {
      throw new StackError(
        `${service} exited before it was ready. Last lines of ${logFile}:\n${await tailForError(logFile)}`,
      );
    }
    if (Date.now() - startedAt >= layout.readyTimeoutMs) {
      throw new StackError(
        `${service} (pid ${pid}) was not ready within ${seconds(layout.readyTimeoutMs)}. ` +
          `If this machine is just slow, raise FLEETLOG_STACK_READY_TIMEOUT_MS and run up again: it reuses the running server. ` +
          `Last lines of ${logFile}:\n${await tailForError(logFile)}`,
      );
    }
    await sleep(PROBE_INTERVAL_MS);
  }
}

async function tailForError(logFile: string): Promise<string> {
  try {
    return await readLogTail(logFile, ERROR_LOG_LINES);
  } catch {
    return '(the log file is missing)';
  }
}

async function assertConfigUnchanged(layout: StackLayout, service: ServiceName): Promise<void> {
  for (const file of SERVICES[service].configFiles(layout)) {
    if ((await readTextIfExists(file.path)) !== file.content) {
      throw new StackError(
        `${service} is already running from ${layout.runDir} with another configuration (${file.path} differs, ` +
          `e.g. other ports). Stop the stack first: node tools/stack/cli.ts down`,
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Preflight checks

async function assertFreeDisk(cacheDir: string): Promise<void> {
  await mkdir(cacheDir, { recursive: true });
  const stats = await statfs(cacheDir);
  const freeBytes = stats.bavail * stats.bsize;
  if (freeBytes < MIN_FREE_BYTES) {
    throw new StackError(
      `Only ${gibibytes(freeBytes)} free on the filesystem of ${cacheDir}; the local stack needs at least ` +
        `${gibibytes(MIN_FREE_BYTES)} (servers, Kafka logs, Elasticsearch data). Free some space or point ` +
        `FLEETLOG_CACHE_DIR at another disk.`,
    );
  }
}

async function findJava(): Promise<JavaRuntime> {
  const result = await runRequiredCommand(
    'java',
    ['-XshowSettings:properties', '-version'],
    `java was not found on PATH. Kafka and Elasticsearch need Java ${MIN_JAVA_MAJOR} or newer: apt-get install -y openjdk-17-jdk-headless`,
  );
  const java = parseJavaSettings(result.output);
  if (java.majorVersion < MIN_JAVA_MAJOR) {
    throw new StackError(
      `java on PATH is Java ${java.majorVersion} (${java.javaHome}); Elasticsearch 8 needs Java ${MIN_JAVA_MAJOR} or newer. ` +
        `Put a newer JDK first on PATH (apt-get install -y openjdk-17-jdk-headless).`,
    );
  }
  return java;
}

async function assertPortsFree(layout: StackLayout, services: ServiceName[]): Promise<void> {
  for (const service of services) {
    for (const port of servicePorts(layout, service)) {
      if (!(await canBind(port))) {
        throw new StackError(
          `Port ${port} on 127.0.0.1, needed by ${service}, is taken by a process that is not this stack's ` +
            `(no live pid in ${serviceDir(layout, service)}). Stop that process (find it with: ss -ltnp) or move ` +
            `${service} to other ports with ${PORT_VARIABLES[service]}.`,
        );
      }
    }
  }
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

async function assertUserNamespaces(): Promise<void> {
  // Any harmless program proves the namespace can be made; this Node binary is one that surely exists.
  const result = await runRequiredCommand(
    'unshare',
    [...UNPRIVILEGED_NAMESPACE, process.execPath, '--version'],
    'Elasticsearch refuses to run as root and `unshare` (util-linux) is missing. Run the stack as a regular user.',
  );
  if (result.exitCode !== 0) {
    throw new StackError(
      `Elasticsearch refuses to run as root, and this machine does not allow a user namespace to run it ` +
        `as another uid (unshare ${UNPRIVILEGED_NAMESPACE.join(' ')} node --version: ${result.output.trim()}). ` +
        `Run the stack as a regular user.`,
    );
  }
}

async function findOrInstallMosquitto(runningAsRoot: boolean, log: Logger): Promise<string> {
  const found = await findExecutable('mosquitto');
  if (found !== undefined) return found;
  if (!runningAsRoot) {
    throw new StackError(
      'mosquitto is not installed. Install the Debian package: sudo apt-get install -y mosquitto',
    );
  }
  log(
    'mosquitto: not installed, installing the Debian package (apt-get update; apt-get install -y mosquitto)',
  );
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [['update'], ['install', '-y', 'mosquitto']]) {
    const result = await runRequiredCommand(
      'apt-get',
      args,
      'mosquitto is not installed and apt-get is missing: install mosquitto by hand.',
      env,
    );
    if (result.exitCode !== 0) {
      throw new StackError(
        `mosquitto is not installed and \`apt-get ${args.join(' ')}\` failed:\n${lastLines(result.output, 20)}`,
      );
    }
  }
  const installed = await findExecutable('mosquitto');
  if (installed === undefined) {
    throw new StackError(
      `apt-get installed mosquitto, but no mosquitto binary is on PATH or in ${SBIN_DIRS.join(', ')}.`,
    );
  }
  return installed;
}

async function findExecutable(name: string): Promise<string | undefined> {
  const searchPath = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...SBIN_DIRS];
  for (const dir of searchPath) {
    const candidate = join(dir, name);
    if (await isExecutable(candidate)) return candidate;
  }
  return undefined;
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Fetching the servers

async function ensureServersFetched(
  layout: StackLayout,
  versions: PinnedVersions,
  log: Logger,
): Promise<void> {
  const pom = await readFile(POM_FILE, 'utf8');
  const pomDigest = createHash('sha256').update(pom).digest('hex');
  const marker = join(layout.cacheDir, 'servers.fetched');
  const kafkaLibs = kafkaLibsDir(layout, versions);
  const elasticsearchHome = elasticsearchHomeDir(layout, versions);
  const complete =
    (await readTextIfExists(marker)) === pomDigest &&
    (await isExecutable(join(elasticsearchHome, 'bin', 'elasticsearch'))) &&
    (await pathExists(join(kafkaLibs, `kafka_2.13-${versions.kafka}.jar`)));
  if (complete) return;

  await runRequiredCommand(
    'mvn',
    ['-v'],
    'Maven (mvn) is needed once to download Kafka and Elasticsearch into the cache: apt-get install -y maven',
  );
  log(
    `fetching Kafka ${versions.kafka} and Elasticsearch ${versions.elasticsearch} into ${layout.cacheDir} with Maven (first run only)`,
  );
  // A half-finished or older fetch must not leave stray jars on Kafka's classpath, and Maven skips
  // unpacking when its own marker (in maven-build) says it already did.
  for (const stale of [marker, dirname(kafkaLibs), elasticsearchHome, join(layout.cacheDir, 'maven-build')]) {
    await rm(stale, { recursive: true, force: true });
  }
  const startedAt = Date.now();
  const result = await runCommand('mvn', [
    '-B',
    '-q',
    '-f',
    POM_FILE,
    'dependency:copy-dependencies@kafka-libs',
    'dependency:unpack-dependencies@elasticsearch-dist',
    `-Dfleetlog.cacheDir=${layout.cacheDir}`,
  ]);
  if (result.exitCode !== 0) {
    throw new StackError(
      `Maven could not fetch the servers listed in ${POM_FILE}:\n${lastLines(result.output, 30)}`,
    );
  }
  await writeFile(marker, pomDigest);
  log(`fetched in ${seconds(Date.now() - startedAt)}`);
}

function kafkaLibsDir(layout: StackLayout, versions: PinnedVersions): string {
  return join(layout.cacheDir, `kafka-${versions.kafka}`, 'libs');
}

function elasticsearchHomeDir(layout: StackLayout, versions: PinnedVersions): string {
  return join(layout.cacheDir, `elasticsearch-${versions.elasticsearch}`);
}

// ---------------------------------------------------------------------------------------------
// The three servers

const kafka: ServiceDefinition = {
  configFiles(layout) {
    const dir = serviceDir(layout, 'kafka');
    return [
      {
        path: join(dir, 'server.properties'),
        content: renderKafkaServerProperties(layout, join(dir, 'data')),
      },
      {
        path: join(dir, 'log4j.properties'),
        content: renderKafkaLog4jProperties(logFileOf(layout, 'kafka')),
      },
    ];
  },
  async prepare(layout, toolchain, log) {
    const dir = serviceDir(layout, 'kafka');
    if (await pathExists(join(dir, 'data', 'meta.properties'))) return;
    // KRaft needs its storage formatted with a cluster id once; later starts reuse it.
    const clusterId = randomBytes(16).toString('base64url');
    log(`kafka: formatting KRaft storage (cluster id ${clusterId})`);
    const result = await runCommand(javaBinary(toolchain), [
      ...kafkaJvmClasspath(layout, toolchain),
      'kafka.tools.StorageTool',
      'format',
      '-t',
      clusterId,
      '-c',
      join(dir, 'server.properties'),
    ]);
    if (result.exitCode !== 0) {
      throw new StackError(
        `Formatting Kafka's storage in ${join(dir, 'data')} failed:\n${lastLines(result.output, ERROR_LOG_LINES)}`,
      );
    }
  },
  launchPlan(layout, toolchain) {
    return {
      command: javaBinary(toolchain),
      args: [
        `-Xms${KAFKA_HEAP}`,
        `-Xmx${KAFKA_HEAP}`,
        '-XX:+UseG1GC',
        '-Djava.awt.headless=true',
        ...kafkaJvmClasspath(layout, toolchain),
        'kafka.Kafka',
        join(serviceDir(layout, 'kafka'), 'server.properties'),
      ],
      env: process.env,
    };
  },
  async answers(layout) {
    const admin = new Kafka({
      clientId: 'fleetlog-stack-probe',
      brokers: [serviceEndpoint(layout, 'kafka')],
      logLevel: logLevel.NOTHING,
      connectionTimeout: PROBE_TIMEOUT_MS,
      requestTimeout: PROBE_TIMEOUT_MS,
      retry: { retries: 0 },
    }).admin();
    try {
      await admin.connect();
      const cluster = await admin.describeCluster();
      // A broker answers metadata while it is still loading its group coordinator's partitions from the log; until
      // then consumer groups fail with "coordinator load in progress", which ListGroups reports for all of them.
      await admin.listGroups();
      return cluster.brokers.length > 0;
    } catch {
      return false;
    } finally {
      await admin.disconnect().catch(ignoreLog);
    }
  },
};

function kafkaJvmClasspath(layout: StackLayout, toolchain: Toolchain): string[] {
  const log4jFile = join(serviceDir(layout, 'kafka'), 'log4j.properties');
  // The JVM expands `dir/*` itself, so no shell is involved.
  return [
    `-Dlog4j.configuration=file:${log4jFile}`,
    '-cp',
    join(kafkaLibsDir(layout, toolchain.versions), '*'),
  ];
}

const elasticsearch: ServiceDefinition = {
  configFiles(layout) {
    const dir = serviceDir(layout, 'elasticsearch');
    const yml = renderElasticsearchYml(layout, { dataDir: join(dir, 'data'), logsDir: join(dir, 'logs') });
    return [{ path: join(dir, 'config', 'elasticsearch.yml'), content: yml }];
  },
  async prepare(layout, toolchain) {
    // ES_PATH_CONF points at a copy so the cached distribution stays pristine; the keystore that
    // Elasticsearch creates on first start lives there too. force: false keeps our elasticsearch.yml.
    const distributionConfig = join(elasticsearchHomeDir(layout, toolchain.versions), 'config');
    await mkdir(join(serviceDir(layout, 'elasticsearch'), 'tmp'), { recursive: true });
    await cp(distributionConfig, join(serviceDir(layout, 'elasticsearch'), 'config'), {
      recursive: true,
      force: false,
    });
  },
  launchPlan(layout, toolchain) {
    const script = join(elasticsearchHomeDir(layout, toolchain.versions), 'bin', 'elasticsearch');
    // The start script warns that it ignores JAVA_HOME; ES_JAVA_HOME is the variable it reads.
    const inherited = { ...process.env };
    delete inherited.JAVA_HOME;
    return {
      command: toolchain.runningAsRoot ? 'unshare' : script,
      args: toolchain.runningAsRoot ? [...UNPRIVILEGED_NAMESPACE, script] : [],
      env: {
        ...inherited,
        ES_JAVA_HOME: toolchain.java.javaHome,
        ES_PATH_CONF: join(serviceDir(layout, 'elasticsearch'), 'config'),
        // Otherwise every start leaves a new /tmp/elasticsearch-<random> directory behind.
        ES_TMPDIR: join(serviceDir(layout, 'elasticsearch'), 'tmp'),
        ES_JAVA_OPTS: `-Xms${ELASTICSEARCH_HEAP} -Xmx${ELASTICSEARCH_HEAP}`,
      },
    };
  },
  async answers(layout) {
    const url = `${serviceEndpoint(layout, 'elasticsearch')}/_cluster/health?wait_for_status=yellow&timeout=1s`;
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
      await response.body?.cancel();
      return response.status === 200;
    } catch {
      return false;
    }
  },
};

const mosquitto: ServiceDefinition = {
  configFiles(layout) {
    const dir = serviceDir(layout, 'mosquitto');
    const conf = renderMosquittoConf(layout, {
      persistenceDir: join(dir, 'data'),
      logFile: logFileOf(layout, 'mosquitto'),
      user: userInfo().username,
    });
    return [{ path: join(dir, 'mosquitto.conf'), content: conf }];
  },
  async prepare(layout) {
    await mkdir(join(serviceDir(layout, 'mosquitto'), 'data'), { recursive: true });
  },
  launchPlan(layout, toolchain) {
    return {
      command: toolchain.mosquittoBinary,
      args: ['-c', join(serviceDir(layout, 'mosquitto'), 'mosquitto.conf')],
      env: process.env,
    };
  },
  async answers(layout) {
    try {
      // allowRetries=false makes a refused or closed connection reject instead of hanging.
      const client = await connectAsync(
        serviceEndpoint(layout, 'mosquitto'),
        {
          clientId: `fleetlog-stack-probe-${process.pid}`,
          connectTimeout: PROBE_TIMEOUT_MS,
          reconnectPeriod: 0,
        },
        false,
      );
      const acknowledged = client.connected;
      await client.endAsync();
      return acknowledged;
    } catch {
      return false;
    }
  },
};

const SERVICES: Record<ServiceName, ServiceDefinition> = { kafka, elasticsearch, mosquitto };

function javaBinary(toolchain: Toolchain): string {
  return join(toolchain.java.javaHome, 'bin', 'java');
}

// ---------------------------------------------------------------------------------------------
// Processes and pid files

async function runningServices(layout: StackLayout): Promise<Map<ServiceName, number>> {
  const running = new Map<ServiceName, number>();
  for (const service of SERVICE_NAMES) {
    const pid = await runningPid(layout, service);
    if (pid !== undefined) running.set(service, pid);
  }
  return running;
}

async function runningPid(layout: StackLayout, service: ServiceName): Promise<number | undefined> {
  const recorded = Number.parseInt((await readTextIfExists(pidFileOf(layout, service))) ?? '', 10);
  if (Number.isNaN(recorded)) return undefined;
  return (await isOurProcess(recorded, serviceDir(layout, service))) ? recorded : undefined;
}

/**
 * Every server is started with OWNER_VARIABLE naming its service directory, so a live pid without it
 * is a recycled pid, not ours. The environment survives the `exec`s of the start scripts (unlike the
 * working directory, which Elasticsearch's script changes). Reading it fails for a zombie.
 */
async function isOurProcess(pid: number, dir: string): Promise<boolean> {
  for (let attempt = 1; attempt <= 10; attempt++) {
    let environment: string;
    try {
      environment = await readFile(`/proc/${pid}/environ`, 'utf8');
    } catch {
      return false;
    }
    if (environment !== '') return environment.split('\0').includes(`${OWNER_VARIABLE}=${dir}`);
    // Measured: the environment reads empty for a moment while a start script exec()s the next program.
    await sleep(20);
  }
  return false;
}

async function stopService(layout: StackLayout, service: ServiceName, log: Logger): Promise<void> {
  const pid = await runningPid(layout, service);
  if (pid !== undefined) {
    log(`${service}: stopping (pid ${pid})`);
    await terminateProcessGroup(pid, service, log);
    log(`${service}: stopped`);
  }
  await rm(pidFileOf(layout, service), { force: true });
}

/**
 * Signals the whole group: Elasticsearch's launcher JVM has a child JVM (the server) that must not
 * be orphaned if the launcher has to be killed.
 */
async function terminateProcessGroup(pid: number, service: ServiceName, log: Logger): Promise<void> {
  signalGroup(pid, 'SIGTERM');
  if (await waitForGroupExit(pid, STOP_TIMEOUT_MS)) return;
  log(`${service}: still running ${seconds(STOP_TIMEOUT_MS)} after SIGTERM, sending SIGKILL`);
  signalGroup(pid, 'SIGKILL');
  if (!(await waitForGroupExit(pid, KILL_TIMEOUT_MS))) {
    throw new StackError(
      `${service} (process group ${pid}) survived SIGKILL; check it with: ps -o pid,stat,args -g ${pid}`,
    );
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

async function waitForGroupExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!groupAlive(pid)) return true;
    await sleep(100);
  }
  return !groupAlive(pid);
}

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

interface CommandResult {
  exitCode: number;
  output: string;
}

/** Runs a short command to completion, stdout and stderr interleaved into one string. */
function runCommand(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.once('error', reject);
    child.once('close', (code, signal) => {
      const output = Buffer.concat(chunks).toString('utf8');
      resolve({ exitCode: code ?? (signal === null ? 1 : 128), output });
    });
  });
}

/** Like runCommand, but a missing executable becomes a StackError that says what to install. */
async function runRequiredCommand(
  command: string,
  args: string[],
  whenMissing: string,
  env?: NodeJS.ProcessEnv,
): Promise<CommandResult> {
  try {
    return await runCommand(command, args, env);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new StackError(whenMissing);
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// Small helpers

function serviceDir(layout: StackLayout, service: ServiceName): string {
  return join(layout.runDir, service);
}

function pidFileOf(layout: StackLayout, service: ServiceName): string {
  return join(serviceDir(layout, service), `${service}.pid`);
}

function logFileOf(layout: StackLayout, service: ServiceName): string {
  return join(serviceDir(layout, service), `${service}.log`);
}

async function readTextIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

async function pathExists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

function seconds(milliseconds: number): string {
  return `${(milliseconds / 1000).toFixed(1)} s`;
}

function gibibytes(bytes: number): string {
  return `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
}
