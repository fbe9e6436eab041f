import { spawn } from 'node:child_process';
import { access, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir, userInfo } from 'node:os';
import { delimiter, join } from 'node:path';
import mqtt from 'mqtt';
import { freePort } from '../../tools/main/app-process.ts';
import { renderMosquittoConf, resolveLayout, stackOptionsFromEnv } from '../../tools/stack/stack-config.ts';

export interface PrivateMosquitto {
  url: string;
  pid: number;
  /**
   * How many times so far the broker began dropping messages queued for a client: past `max_queued_messages` for
   * a session (a subscriber that fell that far behind), Mosquitto discards what would be queued and logs it once.
   */
  dropEpisodes(): Promise<number>;
  stop(): Promise<void>;
}

async function findMosquitto(): Promise<string> {
  const directories = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin'];
  for (const directory of directories.filter(Boolean)) {
    const candidate = join(directory, 'mosquitto');
    if (
      await access(candidate).then(
        () => true,
        () => false,
      )
    )
      return candidate;
  }
  throw new Error('mosquitto not found: `npm run stack -- up` installs it');
}

/**
 * A Mosquitto of its own for the run, with the local stack's configuration (same renderer, so the same
 * persistence, autosave and queue limits) on a free port. Not the shared broker: any persistent session left there
 * with a subscription to fleet/+/+/+ (a test run that died before ending its gateway's, a main job killed) would get
 * a copy of each bench message, queued and rewritten to disk every second, which slows the broker down for its other
 * users and distorts what is measured here.
 */
export async function startPrivateMosquitto(): Promise<PrivateMosquitto> {
  const binary = await findMosquitto();
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'fleetlog-bench-mosquitto-'));
  await mkdir(join(dir, 'data'));
  const layout = resolveLayout(
    { ...stackOptionsFromEnv(), mqttPort: port },
    { env: process.env, homeDir: homedir() },
  );
  const conf = renderMosquittoConf(layout, {
    persistenceDir: join(dir, 'data'),
    logFile: join(dir, 'mosquitto.log'),
    user: userInfo().username,
  });
  await writeFile(join(dir, 'mosquitto.conf'), conf);
  const child = spawn(binary, ['-c', join(dir, 'mosquitto.conf')], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `mqtt://127.0.0.1:${port}`;
  const dropEpisodes = async () =>
    (await readFile(join(dir, 'mosquitto.log'), 'utf8').catch(() => '')).split(
      'Outgoing messages are being dropped for client',
    ).length - 1;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    const answered = await mqtt
      .connectAsync(url, { clientId: `fleetlog-bench-probe-${process.pid}`, reconnectPeriod: 0 }, false)
      .then(
        (client) => client.endAsync().then(() => true),
        () => false,
      );
    if (answered) return { url, pid: child.pid!, dropEpisodes, stop };
    if (Date.now() > deadline || child.exitCode !== null) {
      await stop();
      throw new Error(`the bench's mosquitto did not answer on ${url}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
