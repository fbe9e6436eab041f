export interface GatewayMetrics {
  received: number;
  forwarded: number;
  /** Cumulative counts of fleetlog_gateway_kafka_ack_seconds by upper bound in seconds, +Inf last. */
  ackBuckets: Array<{ le: number; count: number }>;
}

function sampleValue(text: string, name: string): number {
  const match = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
  if (!match) throw new Error(`${name} missing from the gateway's /metrics`);
  return Number(match[1]);
}

export async function scrapeGateway(metricsUrl: string): Promise<GatewayMetrics> {
  const text = await (await fetch(metricsUrl, { signal: AbortSignal.timeout(5_000) })).text();
  const ackBuckets = [
    ...text.matchAll(/^fleetlog_gateway_kafka_ack_seconds_bucket\{le="([^"]+)"[^}]*\} (\d+)$/gm),
  ].map(([, le, count]) => ({
    le: le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le),
    count: Number(count),
  }));
  return {
    received: sampleValue(text, 'fleetlog_gateway_messages_received_total'),
    forwarded: sampleValue(text, 'fleetlog_gateway_messages_forwarded_total'),
    ackBuckets,
  };
}

/**
 * A quantile of the observations made between two scrapes, interpolated linearly inside its bucket as Prometheus'
 * histogram_quantile does; only as exact as the buckets are fine.
 */
export function ackQuantileMs(from: GatewayMetrics, to: GatewayMetrics, quantile: number): number {
  const counts = to.ackBuckets.map((bucket, index) => bucket.count - from.ackBuckets[index]!.count);
  const total = counts.at(-1)!;
  if (total === 0) return Number.NaN;
  const rank = quantile * total;
  for (let index = 0; index < counts.length; index++) {
    if (counts[index]! < rank) continue;
    const upper = to.ackBuckets[index]!.le;
    if (upper === Number.POSITIVE_INFINITY) return to.ackBuckets[index - 1]!.le * 1000;
    const lower = index === 0 ? 0 : to.ackBuckets[index - 1]!.le;
    const below = index === 0 ? 0 : counts[index - 1]!;
    return (lower + ((upper - lower) * (rank - below)) / (counts[index]! - below)) * 1000;
  }
  return Number.NaN;
}
