import fc from 'fast-check';
import { telemetryMessageSchema } from '@fleetlog/contracts';
import { MODE01_PIDS, TELEMETRY_FIELDS, decodeMode01, decodeMode01Hex, type ObdDecodeResult } from './mode01';

function valuesOf(result: ObdDecodeResult): Record<string, number> {
  if (!result.ok) throw new Error(`expected a decoded PID, got: ${result.reason}`);
  return Object.fromEntries(result.value.signals.map((signal) => [signal.name, signal.value]));
}

function reasonOf(result: ObdDecodeResult): string {
  if (result.ok) throw new Error(`expected an error, got ${JSON.stringify(result.value)}`);
  return result.reason;
}

const bytesOf = (hex: string) => Uint8Array.from(Buffer.from(hex, 'hex'));

describe('decodeMode01: J1979 formulas', () => {
  // Expected values worked out by hand from the J1979 formulas, at the all-zero and all-0xFF extremes and at
  // commonly quoted examples (1A F8 -> 1726 rpm) and frames of the carOBD sample (2F 26 -> 12.07 V).
  it.each([
    ['04', '00', 'engineLoadPct', 0],
    ['04', 'ff', 'engineLoadPct', 100],
    ['04', '80', 'engineLoadPct', 50.19607843137255],
    ['05', '00', 'coolantTempC', -40],
    ['05', 'ff', 'coolantTempC', 215],
    ['05', '51', 'coolantTempC', 41],
    ['06', '00', 'shortTermFuelTrimBank1Pct', -100],
    ['06', '80', 'shortTermFuelTrimBank1Pct', 0],
    ['06', 'ff', 'shortTermFuelTrimBank1Pct', 99.21875],
    ['07', '7e', 'longTermFuelTrimBank1Pct', -1.5625],
    ['07', 'ff', 'longTermFuelTrimBank1Pct', 99.21875],
    ['08', '00', 'shortTermFuelTrimBank2Pct', -100],
    ['09', 'ff', 'longTermFuelTrimBank2Pct', 99.21875],
    ['0A', '00', 'fuelPressureKpa', 0],
    ['0A', 'ff', 'fuelPressureKpa', 765],
    ['0B', '00', 'intakeManifoldPressureKpa', 0],
    ['0B', 'ff', 'intakeManifoldPressureKpa', 255],
    ['0C', '0000', 'rpm', 0],
    ['0C', 'ffff', 'rpm', 16383.75],
    ['0C', '1af8', 'rpm', 1726],
    ['0C', '0001', 'rpm', 0.25],
    ['0D', '00', 'speedKph', 0],
    ['0D', 'ff', 'speedKph', 255],
    ['0E', '00', 'timingAdvanceDeg', -64],
    ['0E', 'ff', 'timingAdvanceDeg', 63.5],
    ['0E', '8a', 'timingAdvanceDeg', 5],
    ['0F', '00', 'intakeAirTempC', -40],
    ['0F', 'ff', 'intakeAirTempC', 215],
    ['10', '0000', 'mafGs', 0],
    ['10', 'ffff', 'mafGs', 655.35],
    ['10', '0100', 'mafGs', 2.56],
    ['11', '00', 'throttlePct', 0],
    ['11', 'ff', 'throttlePct', 100],
    ['14', '0000', 'o2Bank1Sensor1V', 0],
    ['14', '0000', 'o2Bank1Sensor1ShortTermFuelTrimPct', -100],
    ['15', 'fffe', 'o2Bank1Sensor2V', 1.275],
    ['15', 'fffe', 'o2Bank1Sensor2ShortTermFuelTrimPct', 98.4375],
    ['1B', '6480', 'o2Bank2Sensor4V', 0.5],
    ['1B', '6480', 'o2Bank2Sensor4ShortTermFuelTrimPct', 0],
    ['1F', '0000', 'engineRunTimeS', 0],
    ['1F', 'ffff', 'engineRunTimeS', 65535],
    ['21', '0000', 'distanceWithMilKm', 0],
    ['21', 'ffff', 'distanceWithMilKm', 65535],
    ['2E', 'ff', 'commandedEvapPurgePct', 100],
    ['2F', '00', 'fuelLevelPct', 0],
    ['2F', 'ff', 'fuelLevelPct', 100],
    ['30', 'ff', 'warmUpsSinceCodesCleared', 255],
    ['31', '0000', 'distanceSinceCodesClearedKm', 0],
    ['31', 'ffff', 'distanceSinceCodesClearedKm', 65535],
    ['31', '0918', 'distanceSinceCodesClearedKm', 2328],
    ['33', '00', 'barometricPressureKpa', 0],
    ['33', 'ff', 'barometricPressureKpa', 255],
    ['3C', '0000', 'catalystTempBank1Sensor1C', -40],
    ['3C', 'ffff', 'catalystTempBank1Sensor1C', 6513.5],
    ['3C', '06fc', 'catalystTempBank1Sensor1C', 138.8],
    ['3D', '0000', 'catalystTempBank2Sensor1C', -40],
    ['3E', 'ffff', 'catalystTempBank1Sensor2C', 6513.5],
    ['3F', '0190', 'catalystTempBank2Sensor2C', 0],
    ['42', '0000', 'batteryV', 0],
    ['42', 'ffff', 'batteryV', 65.535],
    ['42', '2f26', 'batteryV', 12.07],
    ['43', '0000', 'absoluteLoadPct', 0],
    ['43', 'ffff', 'absoluteLoadPct', 25700],
    ['44', '0000', 'commandedEquivalenceRatio', 0],
    ['44', '8000', 'commandedEquivalenceRatio', 1],
    ['44', 'ffff', 'commandedEquivalenceRatio', 1.999969482421875],
    ['45', 'ff', 'relativeThrottlePct', 100],
    ['46', '00', 'ambientAirTempC', -40],
    ['46', 'ff', 'ambientAirTempC', 215],
    ['47', 'ff', 'absoluteThrottleBPct', 100],
    ['48', '00', 'absoluteThrottleCPct', 0],
    ['49', '29', 'acceleratorPedalDPct', 16.07843137254902],
    ['4A', 'ff', 'acceleratorPedalEPct', 100],
    ['4B', '00', 'acceleratorPedalFPct', 0],
    ['4C', 'ff', 'commandedThrottleActuatorPct', 100],
    ['4D', 'ffff', 'timeWithMilMin', 65535],
    ['4E', '0000', 'timeSinceCodesClearedMin', 0],
    ['5C', '00', 'engineOilTempC', -40],
    ['5C', 'ff', 'engineOilTempC', 215],
    ['5E', '0000', 'engineFuelRateLph', 0],
    ['5E', 'ffff', 'engineFuelRateLph', 3276.75],
    ['A6', '00000000', 'odometerKm', 0],
    ['A6', 'ffffffff', 'odometerKm', 429496729.5],
    ['A6', '0001e240', 'odometerKm', 12345.6],
  ] as const)('PID 0x%s with data %s decodes %s to %d', (pidHex, dataHex, name, expected) => {
    expect(valuesOf(decodeMode01(parseInt(pidHex, 16), bytesOf(dataHex)))[name]).toBeCloseTo(expected, 9);
  });

  it('leaves out the oxygen sensor fuel trim when B is 0xFF ("sensor not used in trim" in J1979)', () => {
    expect(valuesOf(decodeMode01(0x15, bytesOf('00ff')))).toEqual({ o2Bank1Sensor2V: 0 });
  });

  it('labels the values the contract has a field for with that field, and only those', () => {
    const result = decodeMode01(0x0d, bytesOf('3c'));
    expect(result).toEqual({
      ok: true,
      value: {
        pid: 0x0d,
        description: 'vehicle speed',
        signals: [{ name: 'speedKph', unit: 'km/h', value: 60, field: 'speedKph' }],
      },
    });
    const extra = decodeMode01(0x0b, bytesOf('21'));
    expect(extra.ok && extra.value.signals).toEqual([
      { name: 'intakeManifoldPressureKpa', unit: 'kPa', value: 33 },
    ]);
  });
});

describe('the Mode 01 table', () => {
  const signals = MODE01_PIDS.flatMap((entry) => entry.signals);

  it('covers the PIDs the gateway was asked to decode', () => {
    const required = [
      0x04, 0x05, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x1f, 0x21, 0x2f, 0x31, 0x33, 0x42,
    ];
    required.push(0x43, 0x44, 0x45, 0x46, 0x47, 0x49, 0x4a, 0x4c, 0xa6);
    expect(required.filter((pid) => !MODE01_PIDS.some((entry) => entry.pid === pid))).toEqual([]);
  });

  it('lists each PID once, in order, and gives every value its own camelCase name', () => {
    const pids = MODE01_PIDS.map((entry) => entry.pid);
    expect(pids).toEqual([...new Set(pids)].sort((a, b) => a - b));
    const names = signals.map((signal) => signal.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names.filter((name) => !/^[a-z][A-Za-z0-9]*$/.test(name))).toEqual([]);
  });

  it('fills every contract field from exactly one PID', () => {
    const filled = signals.flatMap((signal) => (signal.field === undefined ? [] : [signal.field]));
    expect([...filled].sort()).toEqual([...TELEMETRY_FIELDS].sort());
  });

  it("keeps every contract field's whole J1979 range inside the contract schema's range", () => {
    const properties = telemetryMessageSchema.properties as Record<
      string,
      { minimum?: number; maximum?: number }
    >;
    const outOfRange = MODE01_PIDS.flatMap((entry) =>
      entry.signals.flatMap((signal) => {
        if (signal.field === undefined) return [];
        const property = properties[signal.field];
        if (property === undefined) return [`${signal.field} is not in the schema`];
        const { minimum = -Infinity, maximum = Infinity } = property;
        // Every formula is monotonic in the raw count, so all-0x00 and all-0xFF data bound its range.
        const lowest = signal.decode(new Uint8Array(entry.byteCount)) ?? NaN;
        const highest = signal.decode(new Uint8Array(entry.byteCount).fill(0xff)) ?? NaN;
        return lowest >= minimum && highest <= maximum
          ? []
          : [`${signal.field}: ${lowest}..${highest} is not inside ${minimum}..${maximum}`];
      }),
    );
    expect(outOfRange).toEqual([]);
  });

  it('decodes any data of the right length to finite numbers', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...MODE01_PIDS),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        (entry, bytes) => {
          const result = decodeMode01(entry.pid, bytes.subarray(0, entry.byteCount));
          return result.ok && result.value.signals.every((signal) => Number.isFinite(signal.value));
        },
      ),
    );
  });
});

describe('decodeMode01Hex', () => {
  it.each([
    ['bare data', '0C', '1AF8'],
    ['lower case', '0c', '1af8'],
    ['the 41 <PID> response header', '0C', '410C1AF8'],
    ['spaces between bytes', '0c', '41 0c 1a f8'],
    ['leading and trailing spaces', '0C', ' 1A F8 '],
  ])('accepts %s', (_, pidHex, dataHex) => {
    expect(valuesOf(decodeMode01Hex(pidHex, dataHex))).toEqual({ rpm: 1726 });
  });

  it('reads data that starts with 0x41 as data when it has exactly the byte count of the PID', () => {
    expect(valuesOf(decodeMode01Hex('0C', '410C'))).toEqual({ rpm: 4163 });
  });

  it.each([
    ['a PID it does not know', '99', '00', 'PID 0x99 is not supported'],
    ['the supported-PIDs bitmap, which is not a measurement', '00', 'be3eb811', 'PID 0x00 is not supported'],
    ['a letter O for a zero', 'OD', '20', 'PID "OD" is not two hex digits'],
    ['a 0x prefix on the PID', '0x0D', '20', 'PID "0x0D" is not two hex digits'],
    ['a one-digit PID', 'D', '20', 'PID "D" is not two hex digits'],
    ['too few data bytes', '0C', '1A', 'PID 0x0C (engine speed) expects 2 data bytes, got 1'],
    ['no data at all', '0D', '', 'PID 0x0D (vehicle speed) expects 1 data byte, got 0'],
    [
      'too many data bytes',
      '0D',
      '20 20 20 20 20 20 20 20',
      'PID 0x0D (vehicle speed) expects 1 data byte, got 8',
    ],
    [
      'a header of another PID',
      '0D',
      '41 0C 20',
      'PID 0x0D (vehicle speed) data carries the response header of PID 0x0C',
    ],
    ['a non-hex digit', '0D', '2G', 'PID 0x0D (vehicle speed) data is not hex: unexpected "G" at position 1'],
    [
      'an odd number of digits',
      '0D',
      '200',
      'PID 0x0D (vehicle speed) data is not hex: odd number of digits',
    ],
    [
      'a space inside a byte',
      '0D',
      '2 0',
      'PID 0x0D (vehicle speed) data is not hex: unexpected " " at position 1',
    ],
  ])('refuses %s, naming the PID and the fault', (_, pidHex, dataHex, reason) => {
    expect(reasonOf(decodeMode01Hex(pidHex, dataHex))).toBe(reason);
  });

  it('never throws and never returns a non-finite value, whatever the text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 3 }), fc.string({ maxLength: 14 }), (pidHex, dataHex) => {
        const result = decodeMode01Hex(pidHex, dataHex);
        return result.ok
          ? result.value.signals.every((signal) => Number.isFinite(signal.value))
          : result.reason.length > 0;
      }),
    );
  });
});

describe('decodeMode01 errors', () => {
  it.each([
    ['PID 0x0C (engine speed) expects 2 data bytes, got 1', 0x0c, '1a'],
    ['PID 0xA6 (odometer) expects 4 data bytes, got 3', 0xa6, '000000'],
    ['PID 0x01 is not supported', 0x01, '00000000'],
    ['PID 256 is not a byte', 256, '00'],
    ['PID -1 is not a byte', -1, '00'],
    ['PID 1.5 is not a byte', 1.5, '00'],
    ['PID NaN is not a byte', NaN, '00'],
  ])('refuses bad input with: %s', (reason, pid, dataHex) => {
    expect(reasonOf(decodeMode01(pid, bytesOf(dataHex)))).toBe(reason);
  });
});
