import { decodeCheckpoint, encodeCheckpoint } from './checkpoint';

describe('partition checkpoints', () => {
  it('round-trips through the offset-commit metadata, well under Kafka’s 4 KiB limit', () => {
    const checkpoint = {
      rebuildFrom: '9007199254740993',
      watermark: 1_795_000_000_000,
      aggregatesThrough: 1_794_999_979_999,
    };
    const metadata = encodeCheckpoint(checkpoint);
    expect(metadata.length).toBeLessThan(100);
    expect(decodeCheckpoint(metadata)).toEqual(checkpoint);
  });

  it('keeps a watermark that never advanced as minus infinity', () => {
    const checkpoint = { rebuildFrom: '0', watermark: -Infinity, aggregatesThrough: -Infinity };
    expect(decodeCheckpoint(encodeCheckpoint(checkpoint))).toEqual(checkpoint);
  });

  it('reads a checkpoint that names no aggregates as having written every window up to its watermark', () => {
    // What every checkpoint said before windows could wait to be written, and what one says when none waits.
    expect(decodeCheckpoint('{"v":1,"from":"7","wm":1795000000000}')).toEqual({
      rebuildFrom: '7',
      watermark: 1_795_000_000_000,
      aggregatesThrough: 1_795_000_000_000,
    });
    const nothingWaiting = {
      rebuildFrom: '7',
      watermark: 1_795_000_000_000,
      aggregatesThrough: 1_795_000_000_000,
    };
    expect(encodeCheckpoint(nothingWaiting)).toBe('{"v":1,"from":"7","wm":1795000000000}');
  });

  it('ignores metadata that is missing or written by something else', () => {
    for (const metadata of [
      null,
      undefined,
      '',
      'x',
      '{"v":2,"from":"1"}',
      '{"v":1,"from":"-1"}',
      '{"v":1}',
    ]) {
      expect(decodeCheckpoint(metadata)).toBeUndefined();
    }
  });
});
