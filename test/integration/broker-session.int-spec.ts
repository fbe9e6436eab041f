import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import mqtt, { type IConnackPacket } from 'mqtt';
import { endBrokerSession } from '@fleetlog/mqtt';
import { freePort } from '../../tools/main/app-process.ts';
import { renderMosquittoConf, resolveLayout, stackOptionsFromEnv } from '../../tools/stack/stack-config.ts';
import { eventually } from '../support/webhook-receiver';

/**
 * A gateway's persistent session on a Mosquitto configured as the local stack's (persistence, autosave), restarted
 * in between as `stack down` / `stack up` do: the session comes back from the broker's store, and ending it must
 * discard it with what it queued.
 */
describe('ending a broker session', () => {
  const directory = mkdtempSync(join(tmpdir(), 'fleetlog-session-'));
  let broker: ChildProcess;
  let url: string;

  const startBroker = async () => {
    broker = spawn('mosquitto', ['-c', join(directory, 'mosquitto.conf')], { stdio: 'ignore' });
    await eventually(
      () =>
        mqtt
          .connectAsync(url, { clientId: 'probe', reconnectPeriod: 0 })
          .then((client) => client.endAsync().then(() => true))
          .catch(() => undefined),
      10_000,
      'the broker to accept connections',
    );
  };
  const stopBroker = async () => {
    const exited = new Promise((resolve) => broker.once('exit', resolve));
    broker.kill('SIGTERM'); // a clean stop saves the sessions
    await exited;
  };

  /** A gateway-like subscriber: clean start off, a session kept 5 minutes, QoS 1 on every device topic. */
  const leaveSession = async (clientId: string) => {
    const client = await mqtt.connectAsync(url, {
      protocolVersion: 5,
      clientId,
      clean: false,
      reconnectPeriod: 0,
      properties: { sessionExpiryInterval: 300 },
    });
    await client.subscribeAsync('fleet/+/+/+', { qos: 1 });
    await client.endAsync();
  };

  /** Reconnects as the subscriber: whether the broker still had its session, and what it had queued for it. */
  const comeBack = async (clientId: string) => {
    const client = mqtt.connect(url, {
      protocolVersion: 5,
      clientId,
      clean: false,
      reconnectPeriod: 0,
      properties: { sessionExpiryInterval: 0 },
    });
    const received: string[] = [];
    client.on('message', (_topic, payload: Buffer) => received.push(payload.toString()));
    const connack = await new Promise<IConnackPacket>((resolve, reject) => {
      client.once('connect', resolve);
      client.once('error', reject);
    });
    return { client, sessionPresent: connack.sessionPresent, received };
  };

  beforeAll(async () => {
    const port = await freePort();
    url = `mqtt://127.0.0.1:${port}`;
    const layout = resolveLayout(
      { ...stackOptionsFromEnv(), mqttPort: port },
      { env: process.env, homeDir: homedir() },
    );
    const conf = renderMosquittoConf(layout, {
      persistenceDir: directory,
      logFile: join(directory, 'mosquitto.log'),
      user: userInfo().username,
    });
    writeFileSync(join(directory, 'mosquitto.conf'), conf);
    await startBroker();
  });

  afterAll(async () => {
    if (broker.exitCode === null) await stopBroker();
    rmSync(directory, { recursive: true, force: true });
  });

  it('discards a session the broker restored after a restart, with the messages it queued', async () => {
    await leaveSession('gateway-ended');
    await leaveSession('gateway-kept');
    await stopBroker();
    await startBroker();
    const device = await mqtt.connectAsync(url, {
      protocolVersion: 5,
      clientId: 'device',
      reconnectPeriod: 0,
    });
    await device.publishAsync('fleet/acme/truck-1/telemetry', 'queued before the end', { qos: 1 });

    await endBrokerSession(url, 'gateway-ended');
    await device.publishAsync('fleet/acme/truck-1/telemetry', 'published after the end', { qos: 1 });
    await device.endAsync();

    // The control: a session nobody ended was restored and holds both messages for its subscriber.
    const kept = await comeBack('gateway-kept');
    expect(kept.sessionPresent).toBe(true);
    await eventually(() => (kept.received.length === 2 ? true : undefined), 5_000, 'the queued messages');
    expect(kept.received).toEqual(['queued before the end', 'published after the end']);
    await kept.client.endAsync();

    // The ended one is gone, so nothing was queued for it, before the end or after.
    const ended = await comeBack('gateway-ended');
    expect(ended.sessionPresent).toBe(false);
    await ended.client.endAsync();
    expect(ended.received).toEqual([]);
  });
});
