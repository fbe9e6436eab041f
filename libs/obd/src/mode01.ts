import type { TelemetryMessage } from '@fleetlog/contracts';

type NumericTelemetryKey = {
  [K in keyof TelemetryMessage]-?: NonNullable<TelemetryMessage[K]> extends number ? K : never;
}[keyof TelemetryMessage];

/** The contract fields Mode 01 fills; `satisfies` fails the build if the contract renames one of them. */
export const TELEMETRY_FIELDS = [
  'speedKph',
  'rpm',
  'coolantTempC',
  'intakeAirTempC',
  'engineLoadPct',
  'throttlePct',
  'fuelLevelPct',
  'batteryV',
  'mafGs',
  'odometerKm',
] as const satisfies readonly NumericTelemetryKey[];

export type TelemetryField = (typeof TELEMETRY_FIELDS)[number];

export interface Mode01Signal {
  /** Stable camelCase key ending in its unit; the contract's field name when there is one. */
  readonly name: string;
  readonly unit: string;
  readonly field?: TelemetryField;
  /** Reads the PID's data bytes (A at index 0); undefined when J1979 marks the value as not reported. */
  readonly decode: (data: Uint8Array) => number | undefined;
}

export interface Mode01Pid {
  readonly pid: number;
  readonly description: string;
  readonly byteCount: number;
  readonly signals: readonly Mode01Signal[];
}

export interface DecodedSignal {
  name: string;
  unit: string;
  value: number;
  field?: TelemetryField;
}

/** A PID carries one value, except the oxygen sensor PIDs, which carry a voltage and a fuel trim. */
export interface DecodedPid {
  pid: number;
  description: string;
  signals: DecodedSignal[];
}

export type ObdDecodeResult = { ok: true; value: DecodedPid } | { ok: false; reason: string };

const fuelTrimPct = (value: number) => (value * 100) / 128 - 100;
const byte = (data: Uint8Array) => data[0];
const word = (data: Uint8Array) => data[0] * 256 + data[1];
// Multiplying rather than shifting: A << 24 would turn negative for A >= 0x80.
const doubleWord = (data: Uint8Array) => data[0] * 0x1000000 + data[1] * 0x10000 + data[2] * 0x100 + data[3];
const wordOver = (divisor: number) => (data: Uint8Array) => word(data) / divisor;
const percent = (data: Uint8Array) => (data[0] * 100) / 255;
const celsius = (data: Uint8Array) => data[0] - 40;
const trim = (data: Uint8Array) => fuelTrimPct(data[0]);
const catalyst = (data: Uint8Array) => word(data) / 10 - 40;

const toField = (field: TelemetryField, unit: string, decode: Mode01Signal['decode']): Mode01Signal => ({
  name: field,
  unit,
  field,
  decode,
});
const toExtra = (name: string, unit: string, decode: Mode01Signal['decode']): Mode01Signal => ({
  name,
  unit,
  decode,
});
const row = (pid: number, description: string, byteCount: number, ...signals: Mode01Signal[]): Mode01Pid => ({
  pid,
  description,
  byteCount,
  signals,
});

/**
 * PIDs 0x14-0x1B in the order PID 0x13 reports them (two banks of up to four sensors). An ECU that announces
 * its sensors with PID 0x1D instead numbers them differently; telling the two apart needs that PID, which
 * devices do not send with the readings, so the common 0x13 layout is assumed.
 */
const oxygenSensorPids = Array.from({ length: 8 }, (_, index) => {
  const bank = (index >> 2) + 1;
  const sensor = (index & 3) + 1;
  const position = `Bank${bank}Sensor${sensor}`;
  return row(
    0x14 + index,
    `oxygen sensor, bank ${bank} sensor ${sensor}`,
    2,
    toExtra(`o2${position}V`, 'V', (data) => data[0] / 200),
    // B = 0xFF means the sensor is not used in the trim calculation, so there is no trim to report.
    toExtra(`o2${position}ShortTermFuelTrimPct`, '%', (data) =>
      data[1] === 0xff ? undefined : fuelTrimPct(data[1]),
    ),
  );
});

/**
 * Every supported PID, in PID order. Byte counts, formulas and units are the Service $01 PID definitions of
 * SAE J1979 (since 2014 in its digital annex, J1979-DA), identical to ISO 15031-5; A, B, C, D are the data
 * bytes after the `41 <PID>` header.
 */
// prettier-ignore
export const MODE01_PIDS: readonly Mode01Pid[] = [
  row(0x04, 'calculated engine load', 1, toField('engineLoadPct', '%', percent)),
  row(0x05, 'engine coolant temperature', 1, toField('coolantTempC', '°C', celsius)),
  row(0x06, 'short term fuel trim bank 1', 1, toExtra('shortTermFuelTrimBank1Pct', '%', trim)),
  row(0x07, 'long term fuel trim bank 1', 1, toExtra('longTermFuelTrimBank1Pct', '%', trim)),
  row(0x08, 'short term fuel trim bank 2', 1, toExtra('shortTermFuelTrimBank2Pct', '%', trim)),
  row(0x09, 'long term fuel trim bank 2', 1, toExtra('longTermFuelTrimBank2Pct', '%', trim)),
  row(0x0a, 'fuel pressure', 1, toExtra('fuelPressureKpa', 'kPa', (d) => d[0] * 3)),
  row(0x0b, 'intake manifold absolute pressure', 1, toExtra('intakeManifoldPressureKpa', 'kPa', byte)),
  row(0x0c, 'engine speed', 2, toField('rpm', 'rpm', wordOver(4))),
  row(0x0d, 'vehicle speed', 1, toField('speedKph', 'km/h', byte)),
  row(0x0e, 'timing advance', 1, toExtra('timingAdvanceDeg', '° before TDC', (d) => d[0] / 2 - 64)),
  row(0x0f, 'intake air temperature', 1, toField('intakeAirTempC', '°C', celsius)),
  row(0x10, 'mass air flow rate', 2, toField('mafGs', 'g/s', wordOver(100))),
  row(0x11, 'throttle position', 1, toField('throttlePct', '%', percent)),
  ...oxygenSensorPids,
  row(0x1f, 'run time since engine start', 2, toExtra('engineRunTimeS', 's', word)),
  row(0x21, 'distance traveled with MIL on', 2, toExtra('distanceWithMilKm', 'km', word)),
  row(0x2e, 'commanded evaporative purge', 1, toExtra('commandedEvapPurgePct', '%', percent)),
  row(0x2f, 'fuel tank level', 1, toField('fuelLevelPct', '%', percent)),
  row(0x30, 'warm-ups since codes cleared', 1, toExtra('warmUpsSinceCodesCleared', 'count', byte)),
  row(0x31, 'distance traveled since codes cleared', 2, toExtra('distanceSinceCodesClearedKm', 'km', word)),
  row(0x33, 'absolute barometric pressure', 1, toExtra('barometricPressureKpa', 'kPa', byte)),
  row(0x3c, 'catalyst temperature bank 1 sensor 1', 2, toExtra('catalystTempBank1Sensor1C', '°C', catalyst)),
  row(0x3d, 'catalyst temperature bank 2 sensor 1', 2, toExtra('catalystTempBank2Sensor1C', '°C', catalyst)),
  row(0x3e, 'catalyst temperature bank 1 sensor 2', 2, toExtra('catalystTempBank1Sensor2C', '°C', catalyst)),
  row(0x3f, 'catalyst temperature bank 2 sensor 2', 2, toExtra('catalystTempBank2Sensor2C', '°C', catalyst)),
  // The control module's supply voltage is the closest a Mode 01 PID comes to the battery voltage.
  row(0x42, 'control module voltage', 2, toField('batteryV', 'V', wordOver(1000))),
  row(0x43, 'absolute load value', 2, toExtra('absoluteLoadPct', '%', (d) => (word(d) * 100) / 255)),
  row(0x44, 'commanded equivalence ratio', 2, toExtra('commandedEquivalenceRatio', 'ratio', wordOver(32768))),
  row(0x45, 'relative throttle position', 1, toExtra('relativeThrottlePct', '%', percent)),
  row(0x46, 'ambient air temperature', 1, toExtra('ambientAirTempC', '°C', celsius)),
  row(0x47, 'absolute throttle position B', 1, toExtra('absoluteThrottleBPct', '%', percent)),
  row(0x48, 'absolute throttle position C', 1, toExtra('absoluteThrottleCPct', '%', percent)),
  row(0x49, 'accelerator pedal position D', 1, toExtra('acceleratorPedalDPct', '%', percent)),
  row(0x4a, 'accelerator pedal position E', 1, toExtra('acceleratorPedalEPct', '%', percent)),
  row(0x4b, 'accelerator pedal position F', 1, toExtra('acceleratorPedalFPct', '%', percent)),
  row(0x4c, 'commanded throttle actuator', 1, toExtra('commandedThrottleActuatorPct', '%', percent)),
  row(0x4d, 'time run with MIL on', 2, toExtra('timeWithMilMin', 'min', word)),
  row(0x4e, 'time since codes cleared', 2, toExtra('timeSinceCodesClearedMin', 'min', word)),
  row(0x5c, 'engine oil temperature', 1, toExtra('engineOilTempC', '°C', celsius)),
  row(0x5e, 'engine fuel rate', 2, toExtra('engineFuelRateLph', 'L/h', wordOver(20))),
  row(0xa6, 'odometer', 4, toField('odometerKm', 'km', (d) => doubleWord(d) / 10)),
];

const pidsByNumber = new Map(MODE01_PIDS.map((entry) => [entry.pid, entry]));

const MODE01_RESPONSE = 0x41;
const RESPONSE_HEADER_BYTES = 2;
const LONGEST_RESPONSE = RESPONSE_HEADER_BYTES + Math.max(...MODE01_PIDS.map((entry) => entry.byteCount));
/** Reused by every hex decode: the hot path parses without allocating, and nothing is asynchronous. */
const scratch = new Uint8Array(LONGEST_RESPONSE);

export function formatPid(pid: number): string {
  return Number.isInteger(pid) && pid >= 0 && pid <= 0xff
    ? `0x${pid.toString(16).toUpperCase().padStart(2, '0')}`
    : String(pid);
}

const describePid = (entry: Mode01Pid) => `PID ${formatPid(entry.pid)} (${entry.description})`;

export function lookupMode01Pid(pid: number): Mode01Pid | string {
  if (!Number.isInteger(pid) || pid < 0 || pid > 0xff) return `PID ${formatPid(pid)} is not a byte`;
  return pidsByNumber.get(pid) ?? `PID ${formatPid(pid)} is not supported`;
}

export function lookupMode01PidHex(pidHex: string): Mode01Pid | string {
  const high = pidHex.length === 2 ? hexDigitValue(pidHex.charCodeAt(0)) : -1;
  const low = pidHex.length === 2 ? hexDigitValue(pidHex.charCodeAt(1)) : -1;
  if (high < 0 || low < 0) return `PID ${JSON.stringify(pidHex)} is not two hex digits`;
  return lookupMode01Pid(high * 16 + low);
}

function hexDigitValue(charCode: number): number {
  if (charCode >= 0x30 && charCode <= 0x39) return charCode - 0x30;
  const lowerCase = charCode | 0x20;
  if (lowerCase >= 0x61 && lowerCase <= 0x66) return lowerCase - 0x61 + 10;
  return -1;
}

const SPACE = 0x20;

/**
 * Reads hex byte pairs, optionally separated by spaces, into `into`. Returns how many bytes the text holds -
 * which may exceed `into.length`, so that callers can report the real count - or why it is not hex.
 */
export function readHexBytes(text: string, into: Uint8Array): number | string {
  let count = 0;
  for (let position = 0; position < text.length;) {
    if (text.charCodeAt(position) === SPACE) {
      position++;
      continue;
    }
    if (position + 1 >= text.length) return 'is not hex: odd number of digits';
    const high = hexDigitValue(text.charCodeAt(position));
    const low = hexDigitValue(text.charCodeAt(position + 1));
    if (high < 0 || low < 0) {
      const at = high < 0 ? position : position + 1;
      return `is not hex: unexpected ${JSON.stringify(text[at])} at position ${at}`;
    }
    if (count < into.length) into[count] = high * 16 + low;
    count++;
    position += 2;
  }
  return count;
}

const plural = (count: number, noun: string) => `${count} ${noun}${count === 1 ? '' : 's'}`;

/**
 * Parses the data of one response for `entry` and returns its data bytes from index 0, or why it is unusable.
 * The `41 <PID>` header is optional; it is recognised only when its PID matches and the data after it has the
 * right length, so a bare payload that happens to start with 0x41 is never misread. The returned array is
 * shared and valid until the next call.
 */
export function readMode01DataHex(entry: Mode01Pid, dataHex: string): Uint8Array | string {
  const byteCount = readHexBytes(dataHex, scratch);
  if (typeof byteCount === 'string') return `${describePid(entry)} data ${byteCount}`;
  if (byteCount === entry.byteCount + RESPONSE_HEADER_BYTES && scratch[0] === MODE01_RESPONSE) {
    if (scratch[1] !== entry.pid) {
      return `${describePid(entry)} data carries the response header of PID ${formatPid(scratch[1])}`;
    }
    scratch.copyWithin(0, RESPONSE_HEADER_BYTES, byteCount);
    return scratch;
  }
  if (byteCount !== entry.byteCount) {
    return `${describePid(entry)} expects ${plural(entry.byteCount, 'data byte')}, got ${byteCount}`;
  }
  return scratch;
}

function decodeSignals(entry: Mode01Pid, data: Uint8Array): DecodedPid {
  const signals: DecodedSignal[] = [];
  for (const signal of entry.signals) {
    const value = signal.decode(data);
    if (value === undefined) continue;
    signals.push(
      signal.field === undefined
        ? { name: signal.name, unit: signal.unit, value }
        : { name: signal.name, unit: signal.unit, value, field: signal.field },
    );
  }
  return { pid: entry.pid, description: entry.description, signals };
}

/** Decodes the data bytes of a Mode 01 response, without the `41 <PID>` header. */
export function decodeMode01(pid: number, data: Uint8Array): ObdDecodeResult {
  const entry = lookupMode01Pid(pid);
  if (typeof entry === 'string') return { ok: false, reason: entry };
  if (data.length !== entry.byteCount) {
    return {
      ok: false,
      reason: `${describePid(entry)} expects ${plural(entry.byteCount, 'data byte')}, got ${data.length}`,
    };
  }
  return { ok: true, value: decodeSignals(entry, data) };
}

/**
 * Decodes a Mode 01 response given as text: `pidHex` is two hex digits in either case, `dataHex` the data
 * bytes in hex, with or without the `41 <PID>` header and with or without spaces between bytes.
 */
export function decodeMode01Hex(pidHex: string, dataHex: string): ObdDecodeResult {
  const entry = lookupMode01PidHex(pidHex);
  if (typeof entry === 'string') return { ok: false, reason: entry };
  const data = readMode01DataHex(entry, dataHex);
  if (typeof data === 'string') return { ok: false, reason: data };
  return { ok: true, value: decodeSignals(entry, data) };
}
