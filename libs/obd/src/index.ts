export {
  MODE01_PIDS,
  TELEMETRY_FIELDS,
  decodeMode01,
  decodeMode01Hex,
  type DecodedPid,
  type DecodedSignal,
  type Mode01Pid,
  type Mode01Signal,
  type ObdDecodeResult,
  type TelemetryField,
} from './mode01';
export { decodeDtcs, type DtcDecodeResult } from './mode03';
export * from './raw-telemetry';
