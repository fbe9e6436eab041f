import type { AlertSeverity } from '../fleet.alerts/alert-message';

/** Which alerts a target receives: every listed dimension must match; an absent or empty list matches everything. */
export interface WebhookTargetFilters {
  fleetIds?: string[];
  ruleIds?: string[];
  severities?: AlertSeverity[];
}

/** What the api names a target: `wht_` and 16 hex digits. Rules' actions refer to targets by it. */
export const webhookTargetIdPattern = /^wht_[0-9a-f]{16}$/;

/**
 * The value of a fleet.webhooks.targets record: compacted, keyed by target id, a tombstone deletes the target. The
 * secret is on the topic because the notifier must sign with it; the topic is readable by the api and notifier only.
 */
export interface WebhookTarget {
  id: string;
  url: string;
  /** Standard Webhooks secret: `whsec_` + base64 of at least 24 random bytes. */
  secret: string;
  enabled: boolean;
  filters: WebhookTargetFilters;
  /** Set by an admin only: lets the target resolve to private, loopback or link-local addresses. */
  allowPrivateNetwork: boolean;
  changedBy: string;
  changedAt: string;
}
