export interface RetrySchedule {
  /** Attempts per delivery, the first included. */
  maxAttempts: number;
  initialDelayMs: number;
  maxDelayMs: number;
}

/**
 * Exponential backoff with full jitter: after the n-th failed attempt the next one waits a random time in
 * [0, min(max, initial × 2^(n-1))]. Receivers that failed together (an outage) come back spread out, not in waves.
 */
export function retryDelay(failedAttempt: number, schedule: RetrySchedule, random = Math.random): number {
  const ceiling = Math.min(
    schedule.maxDelayMs,
    schedule.initialDelayMs * 2 ** Math.max(0, failedAttempt - 1),
  );
  return Math.round(random() * ceiling);
}

export type AttemptFailure = { kind: 'refused'; reason: string } | { kind: 'failed'; reason: string };

export type NextStep = { kind: 'retry'; attempt: number; dueAt: Date } | { kind: 'park'; reason: string };

/** What follows a failed attempt: a refusal (SSRF) or the last attempt parks at once, anything else is retried. */
export function afterFailure(
  failedAttempt: number,
  failure: AttemptFailure,
  schedule: RetrySchedule,
  now: Date,
  random = Math.random,
): NextStep {
  if (failure.kind === 'refused') return { kind: 'park', reason: failure.reason };
  if (failedAttempt >= schedule.maxAttempts) {
    return { kind: 'park', reason: `${failure.reason} (after ${failedAttempt} attempts)` };
  }
  const delay = retryDelay(failedAttempt, schedule, random);
  return { kind: 'retry', attempt: failedAttempt + 1, dueAt: new Date(now.getTime() + delay) };
}
