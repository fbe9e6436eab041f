import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { builtAppMain } from '../main/app-process.ts';
import { UsageError } from './api-client.ts';
import type { Command } from './command.ts';

/**
 * The simulator app takes its settings from the environment (validated by its schema at start-up, which names the
 * variable of a bad value); each flag sets one variable.
 */
const flags = {
  vehicles: 'SIMULATOR_VEHICLES',
  'rate-hz': 'SIMULATOR_RATE_HZ',
  profile: 'SIMULATOR_PROFILE',
  fleet: 'SIMULATOR_FLEET_ID',
  duration: 'SIMULATOR_DURATION_S',
  qos: 'SIMULATOR_QOS',
  connections: 'SIMULATOR_CONNECTIONS',
  'max-in-flight': 'SIMULATOR_MAX_IN_FLIGHT',
  'fault-share': 'SIMULATOR_FAULT_SHARE',
  'fault-every': 'SIMULATOR_FAULT_EVERY_S',
  source: 'SIMULATOR_SOURCE',
  'carobd-dir': 'SIMULATOR_CAROBD_DIR',
  'mqtt-url': 'MQTT_URL',
} as const;

const simulatorMain = builtAppMain('simulator');

/** `fleetlog simulate [flags]`: the simulator in the foreground, until its duration ends or Ctrl-C. */
export const simulateCommand: Command = {
  usage: `fleetlog simulate ${Object.keys(flags)
    .map((flag) => `[--${flag} V]`)
    .join(' ')}`,
  summary:
    'vehicles publishing telemetry over MQTT until --duration seconds or Ctrl-C: synthetic drive cycles (with ' +
    '--fault-share of them faulty) or --source carobd, the recorded drives time-shifted to now (needs npm run build)',
  async run(args) {
    let values: Record<string, string | undefined>;
    try {
      ({ values } = parseArgs({
        args,
        options: Object.fromEntries(Object.keys(flags).map((flag) => [flag, { type: 'string' }])),
        strict: true,
      }) as { values: Record<string, string | undefined> });
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    if (!existsSync(simulatorMain))
      throw new UsageError(`${simulatorMain} not found: run npm run build first (from the repository root)`);
    const env = { ...process.env };
    for (const [flag, variable] of Object.entries(flags)) {
      const value = values[flag];
      if (value !== undefined) env[variable] = value;
    }
    // In a process group of its own, so that Ctrl-C reaches it once, through us: it stops gracefully on the first
    // signal and ends at once on a second (Ctrl-C twice).
    const simulator = spawn(process.execPath, [simulatorMain], { env, stdio: 'inherit', detached: true });
    const forward = (signal: NodeJS.Signals) => simulator.kill(signal);
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    return new Promise((resolve) =>
      simulator.once('exit', (code) => {
        process.off('SIGINT', forward);
        process.off('SIGTERM', forward);
        resolve(code ?? 1);
      }),
    );
  },
};
