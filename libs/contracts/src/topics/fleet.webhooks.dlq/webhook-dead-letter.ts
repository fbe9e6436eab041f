import type { AlertMessage } from '../fleet.alerts/alert-message';

/** A delivery that exhausted its retries: parked with its reason, so it can be inspected and re-driven. */
export interface WebhookDeadLetter {
  webhookId: string;
  url: string;
  attempts: number;
  lastError: string;
  parkedAt: string;
  alert: AlertMessage;
}
