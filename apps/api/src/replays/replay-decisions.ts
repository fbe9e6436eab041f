import type { JobRecord, JobState } from '@fleetlog/contracts';
import { sameJson, type Rule } from '@fleetlog/rules';

/** Why a request cannot go ahead: the HTTP status and what to tell the caller. */
export interface Refusal {
  status: 404 | 409;
  title: string;
  detail: string;
}

/**
 * A job becomes live from a replay, or again from retirement (a rollback: it catches up from its own offsets). One
 * left promoting by an interrupted promotion (its api instance died) is promoted again: every step can be repeated.
 */
const promotable: readonly JobState[] = ['replaying', 'retired', 'promoting'];

/** The job a promotion replaces, or why there is none to promote. */
export function promotionSubject(
  version: string,
  jobs: readonly JobRecord[],
): { target: JobRecord; live: JobRecord } | Refusal {
  const target = jobs.find((job) => job.version === version);
  if (!target) return { status: 404, title: 'No such job', detail: `There is no job ${version}.` };
  const promoting = jobs.find((job) => job.state === 'promoting' && job.version !== version);
  if (promoting) {
    return {
      status: 409,
      title: 'Promotion in progress',
      detail: `Job ${promoting.version} is being promoted; wait for it to finish.`,
    };
  }
  if (!promotable.includes(target.state)) {
    return {
      status: 409,
      title: 'Not promotable',
      detail: `Job ${version} is ${target.state}: only a replaying, retired or promoting job can be promoted.`,
    };
  }
  const live = jobs.find((job) => job.state === 'live');
  if (!live) {
    return {
      status: 409,
      title: 'No live job',
      detail: 'No job is live: there is nothing to take over from.',
    };
  }
  return { target, live };
}

/**
 * What to do about the target's lag. A replaying job that lags is refused; a retired one is not running, so it is
 * put back to replaying to catch up from its committed offsets, and promoted once the lag is small.
 */
export function lagDecision(
  target: Pick<JobRecord, 'state'>,
  lag: number,
  maxLag: number,
  force: boolean,
): 'promote' | 'refuse' | 'catch-up' {
  if (force || lag <= maxLag) return 'promote';
  return target.state === 'retired' ? 'catch-up' : 'refuse';
}

/** The rule as fleet.rules holds it, and the newest version the audit trail knows for its id (deletes included). */
export interface RuleStanding {
  current: Rule | undefined;
  latestVersion: number;
}

/**
 * Fixes the versions of a replay's rule set when it starts, as the rules service would assign them if the set were
 * applied now: an unchanged rule keeps its version, a changed one takes the next, a new one continues after the
 * newest version its id ever had. Alert ids include the rule version, so a promoted job goes on raising the same ids
 * once its rules are written to fleet.rules.
 */
export function versionRuleSet(rules: readonly Rule[], standing: (ruleId: string) => RuleStanding): Rule[] {
  return rules.map((rule) => {
    const { current, latestVersion } = standing(rule.id);
    if (current && sameContent(current, rule)) return { ...rule, version: current.version };
    return { ...rule, version: (current?.version ?? latestVersion) + 1 };
  });
}

export type RuleStep =
  | { kind: 'create'; rule: Rule }
  | { kind: 'update'; rule: Rule; currentVersion: number }
  | { kind: 'delete'; ruleId: string; currentVersion: number };

/**
 * The changes that make fleet.rules the replay's rule set, versions included; `conflicts` names the rules changed on
 * fleet.rules since the replay started, which would take other versions than those the replay raised alerts under.
 */
export function ruleAdoption(
  snapshot: readonly Rule[],
  current: readonly Rule[],
  latestVersion: (ruleId: string) => number,
): { steps: RuleStep[]; conflicts: string[] } {
  const currentById = new Map(current.map((rule) => [rule.id, rule]));
  const steps: RuleStep[] = [];
  const conflicts: string[] = [];
  for (const rule of snapshot) {
    const existing = currentById.get(rule.id);
    if (existing && existing.version === rule.version && sameContent(existing, rule)) continue;
    if (existing && rule.version === existing.version + 1) {
      steps.push({ kind: 'update', rule, currentVersion: existing.version });
    } else if (!existing && rule.version === latestVersion(rule.id) + 1) {
      steps.push({ kind: 'create', rule });
    } else {
      conflicts.push(rule.id);
    }
  }
  const kept = new Set(snapshot.map((rule) => rule.id));
  for (const rule of current) {
    if (!kept.has(rule.id)) steps.push({ kind: 'delete', ruleId: rule.id, currentVersion: rule.version });
  }
  return { steps, conflicts };
}

function sameContent(a: Rule, b: Rule): boolean {
  return sameJson({ ...a, version: 0 }, { ...b, version: 0 });
}
