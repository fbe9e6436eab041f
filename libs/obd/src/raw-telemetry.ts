import { formatPid, lookupMode01PidHex, readMode01DataHex, type TelemetryField } from './mode01';
import { decodeDtcs } from './mode03';

/** The undecoded OBD-II part of a device's message. */
export interface RawObdTelemetry {
  /**
   * Mode 01 responses keyed by PID as two hex digits (`"0D"` or `"0d"`): the data bytes in hex, with or
   * without the `41 <PID>` header and spaces between bytes.
   */
  mode01?: Record<string, string>;
  /** A Mode 03 response in hex; see `decodeDtcs` for the layouts accepted. */
  mode03?: string;
}

export interface DecodedObdTelemetry {
  /** Values for the telemetry contract's own fields. */
  fields: Partial<Record<TelemetryField, number>>;
  /** Present when the raw part had a Mode 03 response, even one without codes. */
  dtcs?: string[];
  /** Values the contract has no field for, keyed by a stable camelCase name ending in the unit. */
  extra: Record<string, number>;
}

export interface RawTelemetryProblem {
  /** JSON Pointer inside the raw object, e.g. `/mode01/0D`. */
  path: string;
  reason: string;
}

export type RawTelemetryResult = ({ ok: true } & DecodedObdTelemetry) | ({ ok: false } & RawTelemetryProblem);

const pointerToken = (key: string) => key.replaceAll('~', '~0').replaceAll('/', '~1');
const problem = (path: string, reason: string): RawTelemetryResult => ({ ok: false, path, reason });
const pidProblem = (pidHex: string, reason: string) => problem(`/mode01/${pointerToken(pidHex)}`, reason);
const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Decodes what a device sent undecoded into the contract's fields, the extra values and the trouble codes, or
 * names the first thing wrong. Pure and synchronous for the gateway's hot path: the input arrives as parsed
 * JSON from a device, so its shape is checked here rather than trusted; keys other than `mode01` and `mode03`
 * are left to the caller.
 */
export function decodeRawTelemetry(raw: RawObdTelemetry): RawTelemetryResult {
  if (!isPlainObject(raw)) return problem('', 'raw OBD-II telemetry must be an object');
  const fields: Partial<Record<TelemetryField, number>> = {};
  const extra: Record<string, number> = {};

  const { mode01, mode03 } = raw;
  if (mode01 !== undefined) {
    if (!isPlainObject(mode01)) return problem('/mode01', 'must be an object of PID hex to data hex');
    // Object.keys beats for...in here: keys such as "42" are integer-like, which sends for...in down a slow
    // path.
    for (const pidHex of Object.keys(mode01)) {
      const entry = lookupMode01PidHex(pidHex);
      if (typeof entry === 'string') return pidProblem(pidHex, entry);
      const dataHex: unknown = mode01[pidHex];
      if (typeof dataHex !== 'string') return pidProblem(pidHex, 'must be a hex string');
      const data = readMode01DataHex(entry, dataHex);
      if (typeof data === 'string') return pidProblem(pidHex, data);

      for (const signal of entry.signals) {
        const value = signal.decode(data);
        if (value === undefined) continue;
        // Both spellings of a PID ("0d" and "0D") reach the same signals; the second would silently win.
        const target: Record<string, number> = signal.field === undefined ? extra : fields;
        if (target[signal.name] !== undefined) {
          return pidProblem(pidHex, `PID ${formatPid(entry.pid)} is given twice, in different letter case`);
        }
        target[signal.name] = value;
      }
    }
  }

  if (mode03 === undefined) return { ok: true, fields, extra };
  if (typeof mode03 !== 'string') return problem('/mode03', 'must be a hex string');
  const dtcs = decodeDtcs(mode03);
  if (!dtcs.ok) return problem('/mode03', dtcs.reason);
  return { ok: true, fields, dtcs: dtcs.codes, extra };
}
