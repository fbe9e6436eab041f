import type { AlertMessage } from '@fleetlog/contracts';

/**
 * An alert transition as cep appends it to fleet.alerts, for tests and benches: what matters to the caller goes in
 * `overrides`. The id is deterministic, as cep's is, and differs between rule versions.
 */
export function alertMessage(
  ruleId: string,
  vehicleId: string,
  startedAt: string,
  overrides: Partial<AlertMessage> = {},
): AlertMessage {
  return {
    alertId: `${ruleId}:${vehicleId}:${startedAt}:${overrides.ruleVersion ?? 1}`,
    status: 'active',
    ruleId,
    ruleVersion: 1,
    ruleName: ruleId,
    severity: 'warning',
    vehicleId,
    fleetId: 'acme',
    message: 'm',
    startedAt,
    raisedAt: startedAt,
    facts: {},
    lineage: [],
    ...overrides,
  };
}
