import { readHexBytes } from './mode01';

export type DtcDecodeResult = { ok: true; codes: string[] } | { ok: false; reason: string };

const MODE03_RESPONSE = 0x43;
const SYSTEM_LETTERS = 'PCBU';
const HEX_DIGITS = '0123456789ABCDEF';

/** Where the code pairs start, for the layouts `decodeDtcs` accepts, or why there are none. */
function firstCodeOffset(bytes: Uint8Array, byteCount: number): number | string {
  if (byteCount % 2 === 1) {
    return bytes[0] === MODE03_RESPONSE
      ? 1
      : `has an odd number of bytes (${byteCount}) and does not start with the 43 response header`;
  }
  return byteCount >= 2 && bytes[0] === MODE03_RESPONSE && bytes[1] * 2 === byteCount - 2 ? 2 : 0;
}

/**
 * Turns Mode 03 bytes into codes such as P0301: the first two bits of each pair select the system (P, C, B,
 * U), the next two the first digit (0-3), and the remaining twelve bits are the last three hex digits, per
 * SAE J1979 / ISO 15031-5. `00 00` pairs are padding, not codes. Bytes are hex digit pairs, spaces between
 * bytes optional, in one of three layouts:
 * - bare code pairs, an even number of bytes: `03 01 44 01`;
 * - the response of a non-CAN vehicle (ISO 9141-2, ISO 14230-4, SAE J1850): `43` then code pairs, padded with
 *   `00 00` to three codes per message, so an odd number of bytes: `43 03 01 00 00 00 00`;
 * - the response of a CAN vehicle (ISO 15765-4): `43`, a count byte N, then exactly N code pairs:
 *   `43 01 03 01`.
 *
 * Bare pairs that begin with a C03xx code whose second byte equals the number of pairs after it read as a CAN
 * response: the two cannot be told apart, and vehicles send the header far more often than such a code.
 */
export function decodeDtcs(hex: string): DtcDecodeResult {
  const bytes = new Uint8Array(hex.length >> 1);
  const byteCount = readHexBytes(hex, bytes);
  if (typeof byteCount === 'string') return { ok: false, reason: `Mode 03 data ${byteCount}` };
  const offset = firstCodeOffset(bytes, byteCount);
  if (typeof offset === 'string') return { ok: false, reason: `Mode 03 data ${offset}` };

  const codes: string[] = [];
  for (let index = offset; index < byteCount; index += 2) {
    const high = bytes[index];
    const low = bytes[index + 1];
    if (high === 0 && low === 0) continue;
    codes.push(
      SYSTEM_LETTERS[high >> 6] +
        HEX_DIGITS[(high >> 4) & 0x3] +
        HEX_DIGITS[high & 0xf] +
        HEX_DIGITS[low >> 4] +
        HEX_DIGITS[low & 0xf],
    );
  }
  return { ok: true, codes };
}
