import { TelemetryIngest } from '@fleetlog/telemetry';
import { parseCarObdRecording, RecordedVehicle } from './carobd-recording';

const header =
  'ENGINE_RUN_TINE (),ENGINE_RPM (),VEHICLE_SPEED (),THROTTLE (),ENGINE_LOAD (),COOLANT_TEMPERATURE (),' +
  'FUEL_TANK (),INTAKE_AIR_TEMP (),CONTROL_MODULE_VOLTAGE (),';
const rows = [
  '0.000000, 0.000000, 0.000000, 17.647058, 0.000000, 81.000000, 60.392159, 45.000000, 12.382000,',
  '1.000000, 812.500000, 0.000000, 17.647058, 21.176470, 81.000000, 60.392159, 45.000000, 14.051000,',
  '2.000000, 1650.250000, 23.000000, 25.098040, 48.627450, 82.000000, 60.000000, 45.000000, 14.102000,',
];

describe('parseCarObdRecording', () => {
  it('reads each row into the telemetry names and units', () => {
    const readings = parseCarObdRecording('drive.csv', [header, ...rows, ''].join('\n'));
    expect(readings).toHaveLength(3);
    expect(readings[2]).toEqual({
      speedKph: 23,
      rpm: 1650.25,
      coolantTempC: 82,
      intakeAirTempC: 45,
      engineLoadPct: 48.62745,
      throttlePct: 25.09804,
      fuelLevelPct: 60,
      batteryV: 14.102,
    });
  });

  it('leaves out a final row cut short by the recorder stopping mid-write', () => {
    const text = [header, ...rows, '3.000000, 1700.0,'].join('\n');
    expect(parseCarObdRecording('idle.csv', text)).toHaveLength(3);
  });

  it('refuses a truncated row before the last and a missing column, naming the file and line', () => {
    expect(() =>
      parseCarObdRecording('drive.csv', [header, rows[0], '1.0, 800.0,', rows[1]].join('\n')),
    ).toThrow('drive.csv line 3 is truncated');
    expect(() => parseCarObdRecording('idle.csv', ['ENGINE_RPM (),', '800,'].join('\n'))).toThrow(
      'idle.csv has no VEHICLE_SPEED column',
    );
  });
});

describe('RecordedVehicle', () => {
  const readings = parseCarObdRecording('drive.csv', [header, ...rows].join('\n'));
  const identity = { fleetId: 'demo', vehicleId: 'etios-1' };

  it('plays the rows in order stamped with the current time, and loops', () => {
    const vehicle = new RecordedVehicle(identity, readings, 1);
    const t0 = Date.parse('2026-12-03T10:00:00Z');
    const played = Array.from({ length: 4 }, (_, second) => vehicle.tick(new Date(t0 + second * 1000)));
    expect(played.map((message) => message.rpm)).toEqual([812.5, 1650.25, 0, 812.5]);
    expect(played.map((message) => message.ts)).toEqual([
      '2026-12-03T10:00:00.000Z',
      '2026-12-03T10:00:01.000Z',
      '2026-12-03T10:00:02.000Z',
      '2026-12-03T10:00:03.000Z',
    ]);
    expect(played.map((message) => message.ignition)).toEqual([true, true, false, true]);
  });

  it('publishes messages the gateway accepts', () => {
    const ingest = new TelemetryIngest({
      maxNestingDepth: 32,
      maxPayloadBytes: 4096,
      maxFutureSkewMs: 0,
      maxAgeMs: 60_000,
    });
    const now = new Date();
    const message = new RecordedVehicle(identity, readings).tick(now);
    expect(
      ingest.ingest('fleet/demo/etios-1/telemetry', Buffer.from(JSON.stringify(message)), now),
    ).toMatchObject({ accepted: true });
  });
});
