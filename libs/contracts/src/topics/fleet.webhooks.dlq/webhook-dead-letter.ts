import type { AlertMessage } from '../fleet.alerts/alert-message';

/** One HTTP exchange with a target (or the refusal to start one). */
export interface WebhookAttempt {
  attempt: number;
  at: string;
  /** Absent when no response came back (timeout, connection refused, DNS, SSRF refusal). */
  httpStatus?: number;
  error?: string;
  durationMs: number;
}

/** A delivery that exhausted its retries or was refused: parked with its reason, so it can be inspected and re-driven. */
export interface WebhookDeadLetter {
  webhookId: string;
  targetId: string;
  url: string;
  attempts: number;
  /** Why it was parked: the last attempt's error, or `ssrf: ...` for a refused address (never retried). */
  lastError: string;
  parkedAt: string;
  history: WebhookAttempt[];
  alert: AlertMessage;
}
