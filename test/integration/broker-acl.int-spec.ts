import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import mqtt, { type MqttClient } from 'mqtt';
import { freePort } from '../../tools/main/app-process.ts';
import { eventually } from '../support/webhook-receiver';

const run = promisify(execFile);

/**
 * The production broker policy (docker/mosquitto/mosquitto.conf and acl) on a real Mosquitto: identity is in the
 * topic, so the broker must stop a device from publishing under any topic but its own.
 */
describe('broker ACL', () => {
  const directory = mkdtempSync(join(tmpdir(), 'fleetlog-acl-'));
  let broker: ChildProcess;
  let url: string;
  const clients: MqttClient[] = [];

  const connect = async (username: string) => {
    const client = await mqtt.connectAsync(url, {
      protocolVersion: 5,
      username,
      password: `${username}-secret`,
      clientId: `acl-${clients.length}`,
      reconnectPeriod: 0,
    });
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    const port = await freePort();
    url = `mqtt://127.0.0.1:${port}`;
    const passwords = join(directory, 'passwords');
    for (const [index, username] of ['gateway', 'acme/truck-1', 'acme/truck-2'].entries()) {
      await run('mosquitto_passwd', [
        ...(index === 0 ? ['-c'] : []),
        '-b',
        passwords,
        username,
        `${username}-secret`,
      ]);
    }
    writeFileSync(join(directory, 'mosquitto.conf'), loopbackCopyOfProductionConfig(port, passwords));
    broker = spawn('mosquitto', ['-c', join(directory, 'mosquitto.conf')], { stdio: 'ignore' });
    await eventually(
      () => connect('gateway').catch(() => undefined),
      10_000,
      'the broker to accept the gateway',
    );
  });

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.endAsync()));
    broker?.kill('SIGTERM');
  });

  it('delivers what a device publishes under its own topic and refuses what it publishes under another', async () => {
    const [gateway] = clients;
    const received: string[] = [];
    gateway!.on('message', (topic) => received.push(topic));
    await gateway!.subscribeAsync('$share/gateway/fleet/+/+/+', { qos: 1 });

    const device = await connect('acme/truck-1');
    const refusals = await Promise.all(
      ['fleet/acme/truck-2/telemetry', 'fleet/globex/truck-1/telemetry', 'fleet/acme/truck-1/config'].map(
        (topic) =>
          device.publishAsync(topic, '{}', { qos: 1 }).then(
            () => 'accepted',
            (error: Error) => error.message,
          ),
      ),
    );
    await device.publishAsync('fleet/acme/truck-1/telemetry', '{}', { qos: 1 });
    await device.publishAsync('fleet/acme/truck-1/status', '{}', { qos: 1 });

    // One connection delivers in order: once its own messages are in, the refused ones would have been too.
    await eventually(() => (received.length >= 2 ? true : undefined), 5_000, "the device's own messages");
    expect(received).toEqual(['fleet/acme/truck-1/telemetry', 'fleet/acme/truck-1/status']);
    expect(refusals.every((outcome) => /not authori[sz]ed/i.test(outcome))).toBe(true);
  });

  it('refuses devices without valid credentials', async () => {
    await expect(
      mqtt.connectAsync(url, {
        protocolVersion: 5,
        username: 'acme/truck-1',
        password: 'wrong',
        reconnectPeriod: 0,
      }),
    ).rejects.toThrow(/not authori[sz]ed|bad user name or password/i);
  });
});

/** The production config with its container paths and listeners replaced by a loopback listener in a temp dir. */
function loopbackCopyOfProductionConfig(port: number, passwords: string): string {
  const production = readFileSync('docker/mosquitto/mosquitto.conf', 'utf8');
  const containerOnly =
    /^(listener|certfile|keyfile|cafile|tls_version|password_file|acl_file|persistence|persistence_location|log_dest)\b/;
  const kept = production.split('\n').filter((line) => !containerOnly.test(line.trim()));
  return [
    ...kept,
    `listener ${port} 127.0.0.1`,
    `password_file ${passwords}`,
    `acl_file ${join(process.cwd(), 'docker/mosquitto/acl')}`,
    'persistence false',
    // Run as whoever runs the tests: Mosquitto started as root would switch to a user that cannot read the temp dir.
    `user ${userInfo().username}`,
  ].join('\n');
}
