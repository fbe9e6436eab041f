import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import mqtt from 'mqtt';
import { testNamespace } from '../support/test-namespace';

const run = promisify(execFile);

/** `fleetlog simulate` as an operator runs it; resolves with its exit code and output whatever the code. */
function simulate(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return run(process.execPath, ['tools/cli/fleetlog.ts', 'simulate', ...args], { env: process.env }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => error,
  );
}

describe('fleetlog simulate', () => {
  it('publishes readings of the asked number of vehicles in the asked fleet, and stops after --duration', async () => {
    const fleetId = testNamespace('sim');
    const subscriber = await mqtt.connectAsync(process.env.MQTT_URL!);
    const readings: Array<{ topic: string; fleetId: string; vehicleId: string }> = [];
    subscriber.on('message', (topic, payload) =>
      readings.push({
        topic,
        ...(JSON.parse(payload.toString('utf8')) as { fleetId: string; vehicleId: string }),
      }),
    );
    await subscriber.subscribeAsync(`fleet/${fleetId}/+/telemetry`, { qos: 1 });
    try {
      const outcome = await simulate(
        '--vehicles',
        '3',
        '--duration',
        '3',
        '--fleet',
        fleetId,
        '--mqtt-url',
        process.env.MQTT_URL!,
      );
      expect(outcome.code).toBe(0);
      await new Promise((settled) => setTimeout(settled, 500));
    } finally {
      await subscriber.endAsync();
    }
    expect(new Set(readings.map(({ vehicleId }) => vehicleId))).toEqual(
      new Set(['sim-00001', 'sim-00002', 'sim-00003']),
    );
    for (const reading of readings) {
      expect(reading.fleetId).toBe(fleetId);
      expect(reading.topic).toBe(`fleet/${fleetId}/${reading.vehicleId}/telemetry`);
    }
    // 1 Hz for 3 s: three or four readings a vehicle, not a stream that outlives the duration.
    expect(readings.length).toBeGreaterThanOrEqual(6);
    expect(readings.length).toBeLessThanOrEqual(15);
  });

  it('refuses a bad value naming its setting, and an unknown flag', async () => {
    const tooMany = await simulate('--vehicles', '50001', '--duration', '1');
    expect(tooMany.code).toBe(1);
    expect(tooMany.stderr).toContain('SIMULATOR_VEHICLES');
    const unknown = await simulate('--vehicle', '3');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("Unknown option '--vehicle'");
  });
});
