export interface TokenBucketPolicy {
  /** Tokens added per second: the sustained request rate. */
  ratePerSecond: number;
  /** Capacity: the burst a caller who was quiet may spend at once. */
  burst: number;
}

export type Admission = { admitted: true } | { admitted: false; retryAfterSeconds: number };

/**
 * One token bucket per caller, each request taking a token. A bucket that has refilled is the same as none, so
 * `sweep` drops those: memory follows the callers active within the last `burst / ratePerSecond` seconds.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(private readonly policy: TokenBucketPolicy) {}

  take(caller: string, nowMs: number): Admission {
    const tokens = this.tokensAt(caller, nowMs);
    if (tokens >= 1) {
      this.buckets.set(caller, { tokens: tokens - 1, at: nowMs });
      return { admitted: true };
    }
    this.buckets.set(caller, { tokens, at: nowMs });
    return { admitted: false, retryAfterSeconds: Math.ceil((1 - tokens) / this.policy.ratePerSecond) };
  }

  sweep(nowMs: number): void {
    for (const caller of this.buckets.keys()) {
      if (this.tokensAt(caller, nowMs) >= this.policy.burst) this.buckets.delete(caller);
    }
  }

  get size(): number {
    return this.buckets.size;
  }

  private tokensAt(caller: string, nowMs: number): number {
    const bucket = this.buckets.get(caller);
    if (!bucket) return this.policy.burst;
    const refilled = bucket.tokens + (Math.max(0, nowMs - bucket.at) / 1_000) * this.policy.ratePerSecond;
    return Math.min(this.policy.burst, refilled);
  }
}
