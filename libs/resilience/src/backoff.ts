export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
}

/**
 * Exponential backoff with "equal jitter": the ceiling doubles per attempt, the delay is drawn from its upper half,
 * so many clients failing together do not retry in lockstep, yet none retries immediately.
 */
export function backoffDelay(
  attempt: number,
  { initialMs, maxMs }: BackoffPolicy,
  random = Math.random,
): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.max(0, attempt - 1));
  return ceiling / 2 + random() * (ceiling / 2);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
