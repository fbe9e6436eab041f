import fc from 'fast-check';
import { telemetryMessageSchema } from '@fleetlog/contracts';
import { decodeDtcs, type DtcDecodeResult } from './mode03';

function codesOf(result: DtcDecodeResult): string[] {
  if (!result.ok) throw new Error(`expected codes, got: ${result.reason}`);
  return result.codes;
}

describe('decodeDtcs', () => {
  // The top two bits of A pick the system, the next two the first digit, the rest are hex digits as they
  // stand.
  it.each([
    ['0301', 'P0301'],
    ['4401', 'C0401'],
    ['9234', 'B1234'],
    ['C123', 'U0123'],
    ['F0FF', 'U30FF'],
    ['3FFF', 'P3FFF'],
    ['0001', 'P0001'],
  ])('decodes the pair %s to %s', (hex, code) => {
    expect(codesOf(decodeDtcs(hex))).toEqual([code]);
  });

  it('decodes several pairs in order and skips the 00 00 padding between them', () => {
    expect(codesOf(decodeDtcs('0301 0000 0420 0000'))).toEqual(['P0301', 'P0420']);
  });

  it('accepts lower case and spaces between bytes', () => {
    expect(codesOf(decodeDtcs(' 03 01 c1 23 '))).toEqual(['P0301', 'U0123']);
  });

  it.each([
    ['no text at all', ''],
    ['only padding', '0000 0000'],
    ['a non-CAN response without codes', '43 00 00 00 00 00 00'],
    ['a CAN response counting zero codes', '43 00'],
    ['a bare response header', '43'],
  ])('returns no codes for %s', (_, hex) => {
    expect(codesOf(decodeDtcs(hex))).toEqual([]);
  });

  it('strips the 43 header of a non-CAN response, which is odd in length: three padded pairs', () => {
    expect(codesOf(decodeDtcs('43 03 01 04 20 00 00'))).toEqual(['P0301', 'P0420']);
  });

  it('strips the 43 header and count byte of a CAN response', () => {
    expect(codesOf(decodeDtcs('43 02 03 01 04 20'))).toEqual(['P0301', 'P0420']);
  });

  // Bare pairs starting with a C03xx code can look the same; the header is far more common.
  it('reads 43 N followed by exactly N pairs as a CAN response', () => {
    expect(codesOf(decodeDtcs('4301 0301'))).toEqual(['P0301']);
  });

  it('reads bare pairs starting with 43 as codes when the next byte does not count the pairs after', () => {
    expect(codesOf(decodeDtcs('4302 0301'))).toEqual(['C0302', 'P0301']);
  });

  it.each([
    [
      'an odd number of bytes without the header',
      '03 01 04',
      'Mode 03 data has an odd number of bytes (3) and does not start with the 43 response header',
    ],
    ['a non-hex digit', '03 0x', 'Mode 03 data is not hex: unexpected "x" at position 4'],
    ['an odd number of digits', '030', 'Mode 03 data is not hex: odd number of digits'],
  ])('refuses %s', (_, hex, reason) => {
    expect(decodeDtcs(hex)).toEqual({ ok: false, reason });
  });

  it("produces only codes the contract's dtcs pattern accepts", () => {
    const pattern = new RegExp(telemetryMessageSchema.properties.dtcs.items.pattern);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
        const evenLength = bytes.subarray(0, bytes.length & ~1);
        const result = decodeDtcs(Buffer.from(evenLength).toString('hex'));
        return result.ok && result.codes.every((code) => pattern.test(code));
      }),
    );
  });
});
