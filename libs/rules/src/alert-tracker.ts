import { createHash } from 'node:crypto';
import type { AlertLineage, AlertMessage } from '@fleetlog/contracts';
import { parseDuration } from './duration';
import type { Facts } from './condition-evaluator';
import type { Rule } from './rule-schema';

export interface Observation {
  vehicleId: string;
  fleetId: string;
  /** Event time, ms since the epoch. */
  eventTime: number;
  facts: Facts;
  lineage: AlertLineage;
}

interface RuleState {
  /** Event time since which the condition has held without a break. */
  holdingSince?: number;
  evidence: AlertLineage[];
  active?: AlertMessage;
  lastRaisedAt?: number;
}

interface CompiledRule {
  rule: Rule;
  forMs: number;
  cooldownMs: number;
}

/** Evidence kept per alert: the first and the latest messages are what a reader needs to find the cause. */
const maxLineage = 2;

/**
 * Turns per-message rule matches into alert lifecycle transitions (active, then cleared) per vehicle and rule,
 * honouring `for` (held continuously in event time) and `cooldown`. Pure: the caller persists and emits.
 */
export class AlertTracker {
  private readonly rules: CompiledRule[];
  private readonly states = new Map<string, RuleState>();

  constructor(rules: readonly Rule[]) {
    this.rules = rules
      .filter((rule) => rule.enabled)
      .map((rule) => ({
        rule,
        forMs: rule.for ? parseDuration(rule.for) : 0,
        cooldownMs: rule.cooldown ? parseDuration(rule.cooldown) : 0,
      }));
  }

  observe(observation: Observation, matchingRuleIds: ReadonlySet<string>): AlertMessage[] {
    const transitions: AlertMessage[] = [];
    for (const compiled of this.rules) {
      if (!inScope(compiled.rule, observation)) continue;
      const key = `${observation.vehicleId}\u0000${compiled.rule.id}`;
      const state = this.states.get(key) ?? { evidence: [] };
      const transition = matchingRuleIds.has(compiled.rule.id)
        ? this.onConditionHeld(compiled, state, observation)
        : this.onConditionBroken(state, observation);
      if (transition) transitions.push(transition);
      if (state.holdingSince === undefined && !state.active && state.lastRaisedAt === undefined) {
        this.states.delete(key);
      } else {
        this.states.set(key, state);
      }
    }
    return transitions;
  }

  private onConditionHeld(
    { rule, forMs, cooldownMs }: CompiledRule,
    state: RuleState,
    observation: Observation,
  ): AlertMessage | undefined {
    if (state.holdingSince === undefined) {
      state.holdingSince = observation.eventTime;
      state.evidence = [observation.lineage];
    }
    if (state.active) return undefined;
    if (observation.eventTime - state.holdingSince < forMs) return undefined;
    if (state.lastRaisedAt !== undefined && observation.eventTime - state.lastRaisedAt < cooldownMs) {
      return undefined;
    }
    const startedAt = new Date(state.holdingSince).toISOString();
    state.lastRaisedAt = observation.eventTime;
    state.active = {
      alertId: alertId(rule, observation.vehicleId, startedAt),
      status: 'active',
      ruleId: rule.id,
      ruleVersion: rule.version,
      ruleName: rule.name,
      severity: rule.severity,
      vehicleId: observation.vehicleId,
      fleetId: observation.fleetId,
      message: renderMessage(rule.message, { ...observation.facts, vehicleId: observation.vehicleId }),
      startedAt,
      raisedAt: new Date(observation.eventTime).toISOString(),
      facts: observation.facts,
      lineage: [...state.evidence, observation.lineage].slice(-maxLineage),
    };
    return state.active;
  }

  private onConditionBroken(state: RuleState, observation: Observation): AlertMessage | undefined {
    state.holdingSince = undefined;
    state.evidence = [];
    if (!state.active) return undefined;
    const cleared: AlertMessage = {
      ...state.active,
      status: 'cleared',
      clearedAt: new Date(observation.eventTime).toISOString(),
    };
    state.active = undefined;
    return cleared;
  }
}

function inScope(rule: Rule, observation: Observation): boolean {
  const { fleets, vehicles } = rule.scope ?? {};
  return (
    (!fleets || fleets.includes(observation.fleetId)) &&
    (!vehicles || vehicles.includes(observation.vehicleId))
  );
}

/** Deterministic, so a redelivered or replayed message yields the same alert document, never a second one. */
export function alertId(rule: Pick<Rule, 'id' | 'version'>, vehicleId: string, startedAt: string): string {
  return createHash('sha256')
    .update(JSON.stringify([rule.id, rule.version, vehicleId, startedAt]))
    .digest('hex')
    .slice(0, 32);
}

export function renderMessage(template: string, facts: Facts): string {
  return template.replace(/\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g, (_, name: string) => {
    const value = facts[name];
    return value === undefined || value === null ? '' : String(value);
  });
}
