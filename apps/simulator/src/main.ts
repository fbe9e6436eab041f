import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { loadConfig, simulatorEnvSchema, type SimulatorConfig } from '@fleetlog/config';
import { createLogger } from '@fleetlog/observability';
import {
  driveProfiles,
  faultScheduleFor,
  parseCarObdRecording,
  RecordedVehicle,
  SimulatedDevice,
  SimulatedVehicle,
  type DevicePublication,
} from '@fleetlog/simulation';
import { deviceTopicFor } from '@fleetlog/telemetry';

interface Device {
  tick(now: Date, elapsedSeconds: number): DevicePublication[];
}

/** Each tick is cut into this many slices, so that a large fleet publishes evenly rather than in one burst. */
const slicesPerTick = 20;

function vehicleId(index: number): string {
  return `sim-${String(index + 1).padStart(5, '0')}`;
}

function syntheticFleet(config: SimulatorConfig): Device[] {
  return Array.from({ length: config.SIMULATOR_VEHICLES }, (_, index) => {
    const identity = { fleetId: config.SIMULATOR_FLEET_ID, vehicleId: vehicleId(index) };
    // Start points on a grid about 1 km apart around the demo's city centre.
    const start = {
      ...identity,
      seed: index + 1,
      lat: 52.52 + (index % 100) * 0.009,
      lon: 13.405 + Math.floor(index / 100) * 0.015,
    };
    const vehicle = new SimulatedVehicle(start, driveProfiles[config.SIMULATOR_PROFILE](index));
    const fault = faultScheduleFor(index, config.SIMULATOR_FAULT_SHARE, config.SIMULATOR_FAULT_EVERY_S);
    return new SimulatedDevice(vehicle, identity, fault);
  });
}

/** The carOBD drives as vehicles: vehicle k plays recording k mod n, out of step with the others playing it. */
function recordedFleet(config: SimulatorConfig): Device[] {
  const directory = config.SIMULATOR_CAROBD_DIR;
  const recordings = readdirSync(directory)
    .filter((name) => name.endsWith('.csv'))
    .sort()
    .map((name) => parseCarObdRecording(name, readFileSync(join(directory, name), 'utf8')));
  if (recordings.length === 0) throw new Error(`no .csv recordings in ${directory}`);
  return Array.from({ length: config.SIMULATOR_VEHICLES }, (_, index) => {
    const identity = { fleetId: config.SIMULATOR_FLEET_ID, vehicleId: vehicleId(index) };
    const topic = deviceTopicFor(identity);
    const readings = recordings[index % recordings.length]!;
    const vehicle = new RecordedVehicle(identity, readings, Math.floor(index / recordings.length) * 97);
    return { tick: (now: Date) => [{ topic, payload: JSON.stringify(vehicle.tick(now)) }] };
  });
}

/**
 * Drives N simulated vehicles (up to 50,000) and publishes their telemetry over MQTT as devices would: synthetic
 * vehicles with physics, drive cycles and optional faults, or recorded carOBD drives replayed as live vehicles.
 */
async function main(): Promise<void> {
  const config = loadConfig(simulatorEnvSchema);
  const logger = createLogger('simulator', config.LOG_LEVEL);
  const devices = config.SIMULATOR_SOURCE === 'carobd' ? recordedFleet(config) : syntheticFleet(config);
  const clients: MqttClient[] = await Promise.all(
    Array.from({ length: config.SIMULATOR_CONNECTIONS }, (_, index) =>
      mqtt.connectAsync(config.MQTT_URL, {
        protocolVersion: 5,
        clientId: `fleetlog-simulator-${config.SIMULATOR_FLEET_ID}-${process.pid}-${index}`,
        clean: true,
      }),
    ),
  );
  const intervalMs = 1000 / config.SIMULATOR_RATE_HZ;
  const counts = { published: 0, failed: 0, skipped: 0 };
  let inFlight = 0;
  const sending = new Set<Promise<unknown>>();
  const lastTick = new Array<number>(devices.length).fill(Date.now() - intervalMs);

  const publishSlice = (slice: number) => {
    const from = Math.floor((slice * devices.length) / slicesPerTick);
    const to = Math.floor(((slice + 1) * devices.length) / slicesPerTick);
    const now = new Date();
    for (let index = from; index < to; index++) {
      const elapsedSeconds = (now.getTime() - lastTick[index]!) / 1000;
      lastTick[index] = now.getTime();
      for (const { topic, payload } of devices[index]!.tick(now, elapsedSeconds)) {
        if (inFlight >= config.SIMULATOR_MAX_IN_FLIGHT) {
          counts.skipped++;
          continue;
        }
        inFlight++;
        const client = clients[index % clients.length]!;
        const publish = client.publishAsync(topic, payload, { qos: config.SIMULATOR_QOS as 0 | 1 }).then(
          () => counts.published++,
          (error: Error) => {
            counts.failed++;
            logger.warn({ err: error, topic }, 'publish failed');
          },
        );
        sending.add(publish);
        void publish.finally(() => {
          inFlight--;
          sending.delete(publish);
        });
      }
    }
  };
  let slice = 0;
  const timer = setInterval(() => {
    publishSlice(slice);
    slice = (slice + 1) % slicesPerTick;
  }, intervalMs / slicesPerTick);
  const progress = setInterval(() => logger.info({ ...counts, inFlight }, 'publishing'), 10_000);
  logger.info(
    {
      vehicles: devices.length,
      source: config.SIMULATOR_SOURCE,
      rateHz: config.SIMULATOR_RATE_HZ,
      qos: config.SIMULATOR_QOS,
      connections: clients.length,
      faultShare: config.SIMULATOR_SOURCE === 'synthetic' ? config.SIMULATOR_FAULT_SHARE : 0,
    },
    'simulating',
  );

  const stop = async () => {
    clearInterval(timer);
    clearInterval(progress);
    await Promise.allSettled([...sending]);
    await Promise.all(clients.map((client) => client.endAsync()));
    logger.info({ ...counts }, 'stopped');
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
  if (config.SIMULATOR_DURATION_S > 0) setTimeout(() => void stop(), config.SIMULATOR_DURATION_S * 1000);
}

main().catch((error: Error) => {
  process.stderr.write(`simulator: ${error.message}\n`);
  process.exit(1);
});
