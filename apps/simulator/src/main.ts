import mqtt from 'mqtt';
import { loadConfig, simulatorEnvSchema } from '@fleetlog/config';
import { createLogger } from '@fleetlog/observability';
import { SimulatedVehicle, driveProfiles } from '@fleetlog/simulation';
import { deviceTopicFor } from '@fleetlog/telemetry';

/**
 * Drives N simulated vehicles and publishes their telemetry over MQTT at QoS 1, as devices would. One connection
 * carries all vehicles (fine for load; per-device credentials and ACLs are exercised by the gateway's tests).
 */
async function main(): Promise<void> {
  const config = loadConfig(simulatorEnvSchema);
  const logger = createLogger('simulator', config.LOG_LEVEL);
  const vehicles = Array.from({ length: config.SIMULATOR_VEHICLES }, (_, index) => {
    const vehicleId = `sim-${String(index + 1).padStart(4, '0')}`;
    const start = {
      fleetId: config.SIMULATOR_FLEET_ID,
      vehicleId,
      seed: index + 1,
      lat: 52.52 + index * 0.01,
      lon: 13.405,
    };
    return new SimulatedVehicle(start, driveProfiles[config.SIMULATOR_PROFILE](index));
  });
  const client = await mqtt.connectAsync(config.MQTT_URL, {
    protocolVersion: 5,
    clientId: `fleetlog-simulator-${config.SIMULATOR_FLEET_ID}-${process.pid}`,
    clean: true,
  });
  const intervalMs = 1000 / config.SIMULATOR_RATE_HZ;
  let published = 0;
  const inFlight = new Set<Promise<unknown>>();

  const tick = () => {
    const now = new Date();
    for (const vehicle of vehicles) {
      const message = vehicle.tick(now, intervalMs / 1000);
      const sending = client.publishAsync(deviceTopicFor(message), JSON.stringify(message), { qos: 1 }).then(
        () => published++,
        (error: Error) => logger.warn({ err: error, vehicleId: message.vehicleId }, 'publish failed'),
      );
      inFlight.add(sending);
      void sending.finally(() => inFlight.delete(sending));
    }
  };
  const timer = setInterval(tick, intervalMs);
  const progress = setInterval(
    () => logger.info({ published, vehicles: vehicles.length }, 'publishing'),
    10_000,
  );
  logger.info(
    { vehicles: vehicles.length, rateHz: config.SIMULATOR_RATE_HZ, profile: config.SIMULATOR_PROFILE },
    'simulating',
  );

  const stop = async () => {
    clearInterval(timer);
    clearInterval(progress);
    await Promise.allSettled([...inFlight]);
    await client.endAsync();
    logger.info({ published }, 'stopped');
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
  if (config.SIMULATOR_DURATION_S > 0) setTimeout(() => void stop(), config.SIMULATOR_DURATION_S * 1000);
}

main().catch((error: Error) => {
  process.stderr.write(`simulator: ${error.message}\n`);
  process.exit(1);
});
