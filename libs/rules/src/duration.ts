const unitMs = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
export const durationPattern = /^(\d{1,9})(ms|s|m|h|d)$/;

/** "30s", "10m", "1h": the durations operators write in rules. */
export function parseDuration(text: string): number {
  const match = durationPattern.exec(text);
  if (!match) throw new Error(`not a duration: ${JSON.stringify(text)} (use e.g. 500ms, 30s, 10m, 1h, 1d)`);
  return Number(match[1]) * unitMs[match[2] as keyof typeof unitMs];
}
