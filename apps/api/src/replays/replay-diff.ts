import type { AlertComparison } from '@fleetlog/cep';
import type { AlertMessage } from '@fleetlog/contracts';

export interface DifferenceCounts {
  added: number;
  removed: number;
  changed: number;
}

export interface AlertDifference {
  kind: 'added' | 'removed' | 'changed';
  ruleId: string;
  fleetId: string;
  vehicleId: string;
  startedAt: string;
  /** The alert in version a (removed, changed) and in version b (added, changed). */
  before?: AlertMessage;
  after?: AlertMessage;
  /** What differs, for a changed alert. */
  fields?: string[];
}

export interface ReplayDiff {
  from: string;
  to: string;
  alerts: { from: number; to: number };
  totals: DifferenceCounts & { unchanged: number };
  byRule: Array<DifferenceCounts & { ruleId: string }>;
  byVehicle: Array<DifferenceCounts & { fleetId: string; vehicleId: string }>;
  /** The first differences, by start time. */
  differences: AlertDifference[];
}

/** Counts a comparison of two versions' alerts per rule and per vehicle, most differences first. */
export function summarizeDiff(
  versions: { from: string; to: string },
  alerts: { from: number; to: number },
  comparison: AlertComparison,
  maxDifferences: number,
): ReplayDiff {
  const differences: AlertDifference[] = [
    ...comparison.added.map((after) => ({ kind: 'added' as const, ...who(after), after })),
    ...comparison.removed.map((before) => ({ kind: 'removed' as const, ...who(before), before })),
    ...comparison.changed.map(({ before, after, fields }) => ({
      kind: 'changed' as const,
      ...who(after),
      before,
      after,
      fields: [...fields],
    })),
  ].sort((a, b) => a.startedAt.localeCompare(b.startedAt) || a.ruleId.localeCompare(b.ruleId));
  return {
    ...versions,
    alerts,
    totals: {
      added: comparison.added.length,
      removed: comparison.removed.length,
      changed: comparison.changed.length,
      unchanged: comparison.unchanged,
    },
    byRule: countBy(differences, (difference) => ({ ruleId: difference.ruleId })),
    byVehicle: countBy(differences, ({ fleetId, vehicleId }) => ({ fleetId, vehicleId })),
    differences: differences.slice(0, maxDifferences),
  };
}

function who(alert: AlertMessage) {
  const { ruleId, fleetId, vehicleId, startedAt } = alert;
  return { ruleId, fleetId, vehicleId, startedAt };
}

function countBy<K extends Record<string, string>>(
  differences: readonly AlertDifference[],
  keyOf: (difference: AlertDifference) => K,
): Array<DifferenceCounts & K> {
  const groups = new Map<string, DifferenceCounts & K>();
  for (const difference of differences) {
    const key = keyOf(difference);
    const id = JSON.stringify(key);
    const counts = groups.get(id) ?? { ...key, added: 0, removed: 0, changed: 0 };
    counts[difference.kind]++;
    groups.set(id, counts);
  }
  const size = (counts: DifferenceCounts) => counts.added + counts.removed + counts.changed;
  return [...groups.values()].sort(
    (a, b) => size(b) - size(a) || JSON.stringify(a).localeCompare(JSON.stringify(b)),
  );
}
