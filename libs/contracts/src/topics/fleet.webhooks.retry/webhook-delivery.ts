import type { AlertMessage } from '../fleet.alerts/alert-message';
import type { WebhookAttempt } from '../fleet.webhooks.dlq/webhook-dead-letter';

/**
 * A delivery still owed to a target: the next attempt's number and due time, and what the earlier attempts met.
 * Written by the notifier's fan-out (attempt 1, due at once), after each failed attempt, and by the redrive tool.
 */
export interface WebhookDeliveryDue {
  kind: 'due';
  webhookId: string;
  targetId: string;
  attempt: number;
  dueAt: string;
  history: WebhookAttempt[];
  alert: AlertMessage;
}

/** The delivery is finished (delivered, parked, or its target deleted): nothing is owed any more. */
export interface WebhookDeliverySettled {
  kind: 'settled';
  webhookId: string;
  targetId: string;
  outcome: 'delivered' | 'parked' | 'discarded';
  settledAt: string;
}

/**
 * The value of a fleet.webhooks.retry record, keyed by `webhookDeliveryKey`: every record of one delivery lands on
 * one partition, in order, and the latest record of a key is the delivery's state.
 */
export type WebhookDeliveryRecord = WebhookDeliveryDue | WebhookDeliverySettled;

export function webhookDeliveryKey(targetId: string, webhookId: string): string {
  return `${targetId}/${webhookId}`;
}
