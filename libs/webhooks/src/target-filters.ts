import type { AlertMessage, WebhookTarget, WebhookTargetFilters } from '@fleetlog/contracts';

const admits = <T>(listed: readonly T[] | undefined, value: T) =>
  !listed || listed.length === 0 || listed.includes(value);

/** Every listed dimension must match; an absent or empty list matches everything. */
export function filtersMatch(filters: WebhookTargetFilters, alert: AlertMessage): boolean {
  return (
    admits(filters.fleetIds, alert.fleetId) &&
    admits(filters.ruleIds, alert.ruleId) &&
    admits(filters.severities, alert.severity)
  );
}

/** An enabled target receives what its filters take and what a rule's actions send it by name. */
export function targetReceives(target: WebhookTarget, alert: AlertMessage): boolean {
  return (
    target.enabled &&
    (alert.webhookTargetIds?.includes(target.id) === true || filtersMatch(target.filters, alert))
  );
}

/**
 * A record read from fleet.webhooks.targets, checked before it is trusted with deliveries: returns the target or
 * why it was refused.
 */
export function parseWebhookTarget(value: unknown): WebhookTarget | string {
  const target = value as Partial<WebhookTarget> | null;
  if (typeof target !== 'object' || target === null) return 'not an object';
  if (typeof target.id !== 'string' || target.id.length === 0) return 'id missing';
  if (typeof target.url !== 'string' || !URL.canParse(target.url)) return 'url is not a URL';
  if (!['http:', 'https:'].includes(new URL(target.url).protocol)) return 'url must be http or https';
  if (typeof target.secret !== 'string' || target.secret.length < 24)
    return 'secret shorter than 24 characters';
  const filters = target.filters ?? {};
  const lists = [filters.fleetIds, filters.ruleIds, filters.severities];
  if (lists.some((list) => list !== undefined && !Array.isArray(list))) return 'filters must be lists';
  return {
    ...target,
    enabled: target.enabled !== false,
    filters,
    allowPrivateNetwork: target.allowPrivateNetwork === true,
  } as WebhookTarget;
}
