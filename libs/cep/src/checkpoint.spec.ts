import { decodeCheckpoint, encodeCheckpoint } from './checkpoint';

describe('partition checkpoints', () => {
  it('round-trips through the offset-commit metadata, well under Kafka’s 4 KiB limit', () => {
    const metadata = encodeCheckpoint({ rebuildFrom: '9007199254740993', watermark: 1_795_000_000_000 });
    expect(metadata.length).toBeLessThan(100);
    expect(decodeCheckpoint(metadata)).toEqual({
      rebuildFrom: '9007199254740993',
      watermark: 1_795_000_000_000,
    });
  });

  it('keeps a watermark that never advanced as minus infinity', () => {
    expect(decodeCheckpoint(encodeCheckpoint({ rebuildFrom: '0', watermark: -Infinity }))).toEqual({
      rebuildFrom: '0',
      watermark: -Infinity,
    });
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
