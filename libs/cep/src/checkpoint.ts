/**
 * What cep commits with a partition's offset (Kafka's offset-commit metadata, a few dozen bytes): where a new
 * owner of the partition must start re-reading to rebuild windows, timers and alert state, and the watermark
 * reached, below which every timer has already fired. The committed offset itself says below which offset
 * every side effect has already happened.
 */
export interface PartitionCheckpoint {
  rebuildFrom: string;
  watermark: number;
  /**
   * Every aggregate window ending at or before this is written: the watermark, or just below the end of the oldest
   * window that ended but waits to be written (StreamProcessorOptions.maxAggregatesPerCall).
   */
  aggregatesThrough: number;
}

const version = 1;

export function encodeCheckpoint(checkpoint: PartitionCheckpoint): string {
  const { rebuildFrom, watermark, aggregatesThrough } = checkpoint;
  // Left out when it says nothing more than the watermark: the common case, and the only one before it existed.
  return JSON.stringify(
    aggregatesThrough < watermark
      ? { v: version, from: rebuildFrom, wm: watermark, ag: aggregatesThrough }
      : { v: version, from: rebuildFrom, wm: watermark },
  );
}

/** Undefined for metadata that is missing or not ours (another tool committed): rebuild nothing then. */
export function decodeCheckpoint(metadata: string | null | undefined): PartitionCheckpoint | undefined {
  if (!metadata) return undefined;
  try {
    const parsed = JSON.parse(metadata) as { v?: unknown; from?: unknown; wm?: unknown; ag?: unknown };
    if (parsed.v !== version || typeof parsed.from !== 'string' || !/^\d+$/.test(parsed.from))
      return undefined;
    const watermark = typeof parsed.wm === 'number' ? parsed.wm : -Infinity;
    const aggregatesThrough = typeof parsed.ag === 'number' ? parsed.ag : watermark;
    return { rebuildFrom: parsed.from, watermark, aggregatesThrough };
  } catch {
    return undefined;
  }
}
