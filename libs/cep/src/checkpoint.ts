/**
 * What cep commits with a partition's offset (Kafka's offset-commit metadata, a few dozen bytes): where a new
 * owner of the partition must start re-reading to rebuild windows, timers and alert state, and the watermark
 * reached, below which every timer has already fired. The committed offset itself says below which offset
 * every side effect has already happened.
 */
export interface PartitionCheckpoint {
  rebuildFrom: string;
  watermark: number;
}

const version = 1;

export function encodeCheckpoint(checkpoint: PartitionCheckpoint): string {
  return JSON.stringify({ v: version, from: checkpoint.rebuildFrom, wm: checkpoint.watermark });
}

/** Undefined for metadata that is missing or not ours (another tool committed): rebuild nothing then. */
export function decodeCheckpoint(metadata: string | null | undefined): PartitionCheckpoint | undefined {
  if (!metadata) return undefined;
  try {
    const parsed = JSON.parse(metadata) as { v?: unknown; from?: unknown; wm?: unknown };
    if (parsed.v !== version || typeof parsed.from !== 'string' || !/^\d+$/.test(parsed.from))
      return undefined;
    return { rebuildFrom: parsed.from, watermark: typeof parsed.wm === 'number' ? parsed.wm : -Infinity };
  } catch {
    return undefined;
  }
}
