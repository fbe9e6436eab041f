import { createHash } from 'node:crypto';
import type { AlertLineage, AlertMessage } from '@fleetlog/contracts';
import { parseDuration } from './duration';
import { thenStepId, type Facts } from './condition-evaluator';
import { parameterizedFactKey, parameterizedFactsReadBy } from './fact-catalog';
import { inScope, triggerOf, type Rule, type RuleTrigger } from './rule-schema';

export interface Observation {
  vehicleId: string;
  fleetId: string;
  /** Event time, ms since the epoch. */
  eventTime: number;
  facts: Facts;
  /** The window, change and rate values of this message by key, asked for only when an alert is raised. */
  derivedFacts?: () => Facts;
  /** The topic and partition of the vehicle's messages: every one of them comes from there. */
  source: LogPartition;
  /** The message's offset in `source`: with it, an alert's evidence (`AlertLineage`), made only when one is raised. */
  offset: number;
}

/** A log partition: where an alert's evidence is, but for the offset. */
export type LogPartition = Omit<AlertLineage, 'offset'>;

/**
 * One rule's state for one vehicle; absent while the rule has nothing to remember. Evidence is kept as bare log
 * offsets: every message of a vehicle comes from the same topic and partition, which the alert's lineage takes from
 * the message that raises it (a lineage object with its offset text would cost about 80 bytes a rule and vehicle).
 */
interface RuleState {
  /** The rule's index into `AlertTracker.rules`. */
  rule: number;
  /** The vehicle's state for a later rule, if one has any (see `VehicleAlerts.states`). */
  next: RuleState | undefined;
  /** Event time since which the condition (the `then` step for A-then-B) has held without a break. */
  holdingSince?: number;
  holdingOffset?: number;
  /** Event time at which an active alert's condition stopped holding (`clearAfter`). */
  brokenSince?: number;
  active?: AlertMessage;
  lastRaisedAt?: number;
  /** `count`: event times at which the condition began to hold, oldest first, at most `atLeast`. */
  onsets?: number[];
  /** `then`: the latest event time at which the first step held. */
  firstStepAt?: number;
  firstStepOffset?: number;
}

/**
 * The alert state of one vehicle, kept by the caller: cep's vehicle object has these fields among its own, so a
 * vehicle is one object rather than two (about 70 bytes). Start it with `applicable` from `applicableTo` and no
 * `states`. The vehicle's last message (its event time, the evidence of an absence alert) is the caller's to
 * remember too: cep has it already, and as a field here it would be a heap number of its own.
 */
export interface VehicleAlerts {
  readonly vehicleId: string;
  readonly fleetId: string;
  /** Indices into `AlertTracker.rules` of the enabled rules in scope for this vehicle. */
  applicable: readonly number[];
  /**
   * The states of the rules that have something to remember, a list in rule order through `RuleState.next`;
   * undefined when none has, as for most vehicles most of the time. A list, not an array of a slot per rule: a
   * vehicle with state usually has it for one rule (a cooldown), and an array for ten rules cost about 130 bytes.
   */
  states: RuleState | undefined;
}

/** A vehicle's last in-order message: its event time (−∞ before the first) and where in the log it is. */
export interface LastMessage {
  eventTime: number;
  source: LogPartition;
  offset: number;
}

interface TrackedRule {
  rule: Rule;
  trigger: RuleTrigger;
  /** `for`, `count.within`, `then.within` or `absence`, in ms. */
  spanMs: number;
  cooldownMs: number;
  clearAfterMs: number;
  atLeast: number;
  /** The targets the rule's actions name, one list shared by all its alerts; undefined when none. */
  webhookTargetIds: string[] | undefined;
  /** Index of the rule's condition set (and of its `then` step) among the evaluated ones; -1 if none. */
  conditionIndex: number;
  thenIndex: number;
  /** The derived facts (window, change, rate) its conditions read: those of the facts its alerts keep. */
  derivedKeys: string[];
}

/** Evidence kept per alert: the first and the latest messages are what a reader needs to find the cause. */
const maxLineage = 2;

/**
 * Turns per-message condition results into alert lifecycle transitions (active, then cleared) per vehicle and
 * rule, in event time: `for` (held continuously), `count` (began to hold N times within T), `then` (A then B
 * within T), `absence` (no message for T, driven by the caller's clock), `cooldown` and `clearAfter`.
 * Pure: the caller keeps the per-vehicle state, persists and emits.
 */
export class AlertTracker {
  readonly rules: readonly TrackedRule[];
  private readonly applicableLists = new Map<string, number[]>();

  /** `conditionSetIds`: the ids of the evaluated condition sets, in the order the evaluator reports them. */
  constructor(rules: readonly Rule[], conditionSetIds: readonly string[]) {
    this.rules = rules
      .filter((rule) => rule.enabled)
      .map((rule) => {
        const trigger = triggerOf(rule);
        const span = rule.absence ?? rule.count?.within ?? rule.then?.within ?? rule.for;
        return {
          rule,
          trigger,
          spanMs: span ? parseDuration(span) : 0,
          cooldownMs: rule.cooldown ? parseDuration(rule.cooldown) : 0,
          clearAfterMs: rule.clearAfter ? parseDuration(rule.clearAfter) : 0,
          atLeast: rule.count?.atLeast ?? 1,
          webhookTargetIds: rule.actions && [...new Set(rule.actions.map((action) => action.target))],
          conditionIndex: conditionSetIds.indexOf(rule.id),
          thenIndex: conditionSetIds.indexOf(thenStepId(rule.id)),
          derivedKeys: [
            ...new Set(
              [rule.conditions, rule.then?.conditions]
                .flatMap((conditions) => (conditions ? parameterizedFactsReadBy(conditions) : []))
                .map(parameterizedFactKey),
            ),
          ],
        };
      });
  }

  /** How far back in event time state can reach: what a rebuild must re-read. */
  get lookbackMs(): number {
    return Math.max(
      0,
      ...this.rules.map((tracked) => tracked.spanMs + tracked.cooldownMs + tracked.clearAfterMs),
    );
  }

  /** The rules that apply to a vehicle with these tags: what its `VehicleAlerts.applicable` starts as. */
  applicableTo(fleetId: string, vehicleId: string, tags: readonly string[]): readonly number[] {
    const applicable = this.rules.flatMap((tracked, index) =>
      inScope(tracked.rule, fleetId, vehicleId, tags) ? [index] : [],
    );
    // Most vehicles share their list of applicable rules: one array for all of them, not one each.
    const signature = applicable.join(',');
    let shared = this.applicableLists.get(signature);
    if (!shared) {
      shared = applicable;
      this.applicableLists.set(signature, shared);
    }
    return shared;
  }

  /**
   * One in-order message of the vehicle. `holds[i]` says whether condition set i held; `informs[i]` whether the
   * message carries any field condition set i reads. A rule learns nothing from a message that carries none of its
   * fields (a trouble-code or status message amid readings), so such a message neither breaks nor extends a hold.
   * Transitions are appended to `out`.
   */
  observe(
    vehicle: VehicleAlerts,
    observation: Observation,
    holds: Uint8Array,
    informs: Uint8Array,
    out: AlertMessage[],
  ): void {
    for (const index of vehicle.applicable) {
      const tracked = this.rules[index]!;
      const known = stateOf(vehicle, index);
      // An idle rule whose conditions do not hold stays idle: no state to make.
      if (!known && !holds[tracked.conditionIndex] && !(tracked.thenIndex >= 0 && holds[tracked.thenIndex])) {
        continue;
      }
      const state = known ?? newRuleState(index);
      if (tracked.trigger === 'absence') {
        if (state.active) out.push(this.clear(state, observation.eventTime));
      } else if (informs[tracked.conditionIndex] || (tracked.thenIndex >= 0 && informs[tracked.thenIndex])) {
        this.step(tracked, state, observation, holds, out);
      }
      if (isIdle(state)) {
        if (known) unlink(vehicle, state);
      } else if (!known) link(vehicle, state);
    }
  }

  /**
   * Moves the vehicle's alert state, in place, from `previous`'s rules to this tracker's after a rule change, or
   * from this tracker to itself after the vehicle's tags changed: a rule whose id and version are unchanged and that
   * still applies keeps its state, the rest start afresh. An alert still active under a rule that changed, was
   * disabled or deleted, or no longer has the vehicle in scope is cleared (appended to `out`) at the vehicle's last
   * event time: it was raised by a judgement that no longer stands.
   */
  carryOver(
    previous: AlertTracker,
    alerts: VehicleAlerts,
    tags: readonly string[],
    lastSeenAt: number,
    out: AlertMessage[],
  ): void {
    const previousStates: RuleState[] = [];
    for (let state = alerts.states; state; state = state.next) previousStates.push(state);
    alerts.applicable = this.applicableTo(alerts.fleetId, alerts.vehicleId, tags);
    alerts.states = undefined;
    const indexOf = new Map(this.rules.map(({ rule }, index) => [versionKey(rule), index]));
    for (const state of previousStates) {
      const index = indexOf.get(versionKey(previous.rules[state.rule]!.rule));
      if (index === undefined || !alerts.applicable.includes(index)) {
        if (state.active) out.push(this.clear(state, lastSeenAt));
        continue;
      }
      state.rule = index;
      link(alerts, state);
    }
  }

  /** When the vehicle's earliest pending absence alert falls due, if any. `lastSeenAt`: see `LastMessage`. */
  absenceDeadline(vehicle: VehicleAlerts, lastSeenAt: number): number | undefined {
    let deadline: number | undefined;
    for (const index of vehicle.applicable) {
      const due = this.absenceDue(vehicle, lastSeenAt, index);
      if (due !== undefined && (deadline === undefined || due < deadline)) deadline = due;
    }
    return deadline;
  }

  /** Raises the absence alerts due by `watermark` (event time up to which no more messages are expected). */
  raiseAbsences(vehicle: VehicleAlerts, last: LastMessage, watermark: number, out: AlertMessage[]): void {
    for (const index of vehicle.applicable) {
      const due = this.absenceDue(vehicle, last.eventTime, index);
      if (due === undefined || due > watermark) continue;
      const known = stateOf(vehicle, index);
      const state = known ?? newRuleState(index);
      const facts = { lastSeenAt: new Date(last.eventTime).toISOString(), vehicleId: vehicle.vehicleId };
      out.push(
        this.raise(this.rules[index]!, state, vehicle, last.eventTime, due, facts, [
          atOffset(last.source, last.offset),
        ]),
      );
      if (!known) link(vehicle, state);
    }
  }

  /**
   * When an absence rule raises for this vehicle: a span after its last message, or when a cooldown from the
   * previous alert ends if that is later. Undefined for other rules, before the first message, or while active.
   */
  private absenceDue(vehicle: VehicleAlerts, lastSeenAt: number, index: number): number | undefined {
    const tracked = this.rules[index]!;
    const state = stateOf(vehicle, index);
    if (tracked.trigger !== 'absence' || lastSeenAt === -Infinity || state?.active) return undefined;
    const due = lastSeenAt + tracked.spanMs;
    const cooldownEnds =
      state?.lastRaisedAt === undefined ? -Infinity : state.lastRaisedAt + tracked.cooldownMs;
    return Math.max(due, cooldownEnds);
  }

  private step(
    tracked: TrackedRule,
    state: RuleState,
    observation: Observation,
    holds: Uint8Array,
    out: AlertMessage[],
  ): void {
    const { eventTime, source, offset } = observation;
    forgetExpired(tracked, state, eventTime);
    const firstHolds = tracked.conditionIndex >= 0 && holds[tracked.conditionIndex] === 1;
    const held = tracked.trigger === 'then' ? holds[tracked.thenIndex] === 1 : firstHolds;
    const began = held && state.holdingSince === undefined;
    if (held) {
      state.brokenSince = undefined;
      if (began) {
        state.holdingSince = eventTime;
        state.holdingOffset = offset;
      }
    } else {
      state.holdingSince = undefined;
      state.holdingOffset = undefined;
      if (state.active) {
        state.brokenSince ??= eventTime;
        if (eventTime - state.brokenSince >= tracked.clearAfterMs) out.push(this.clear(state, eventTime));
      }
    }
    const startedAt = this.startOf(tracked, state, observation, began, held);
    // The first step is recorded after the second is checked: A and B in one message is not "A then B".
    if (tracked.trigger === 'then' && firstHolds) {
      state.firstStepAt = eventTime;
      state.firstStepOffset = offset;
    }
    if (startedAt === undefined || state.active || coolingDown(tracked, state, eventTime)) return;
    const firstEvidence = tracked.trigger === 'then' ? state.firstStepOffset! : state.holdingOffset!;
    const evidence = [atOffset(source, firstEvidence), atOffset(source, offset)];
    // The message's own facts and the derived ones this rule reads, not every window of the rule set: what made it
    // fire, for the reader (and kept with the alert while it is active).
    const facts: Facts = { ...observation.facts, vehicleId: observation.vehicleId };
    if (tracked.derivedKeys.length > 0) {
      const derived = observation.derivedFacts?.() ?? {};
      for (const key of tracked.derivedKeys) facts[key] = derived[key];
    }
    out.push(this.raise(tracked, state, observation, startedAt, eventTime, facts, evidence));
    state.onsets = undefined;
  }

  /** The event time at which the raised alert starts, if this message completes the rule's pattern. */
  private startOf(
    tracked: TrackedRule,
    state: RuleState,
    { eventTime }: Observation,
    began: boolean,
    held: boolean,
  ): number | undefined {
    if (!held) return undefined;
    switch (tracked.trigger) {
      case 'for':
        return eventTime - state.holdingSince! >= tracked.spanMs ? state.holdingSince : undefined;
      case 'count': {
        if (!began) return undefined;
        const onsets = (state.onsets ??= []);
        onsets.push(eventTime);
        while (onsets.length > 0 && eventTime - onsets[0]! > tracked.spanMs) onsets.shift();
        if (onsets.length > tracked.atLeast) onsets.shift();
        return onsets.length >= tracked.atLeast ? onsets[0] : undefined;
      }
      case 'then': {
        const first = state.firstStepAt;
        if (!began || first === undefined || eventTime - first > tracked.spanMs) return undefined;
        return first;
      }
      default:
        return undefined;
    }
  }

  private raise(
    { rule, webhookTargetIds }: TrackedRule,
    state: RuleState,
    vehicle: { vehicleId: string; fleetId: string },
    startedAt: number,
    raisedAt: number,
    facts: Facts,
    evidence: AlertLineage[],
  ): AlertMessage {
    const startedAtText = new Date(startedAt).toISOString();
    state.lastRaisedAt = raisedAt;
    state.brokenSince = undefined;
    state.active = {
      alertId: alertId(rule, vehicle.fleetId, vehicle.vehicleId, startedAtText),
      status: 'active',
      ruleId: rule.id,
      ruleVersion: rule.version,
      ruleName: rule.name,
      severity: rule.severity,
      vehicleId: vehicle.vehicleId,
      fleetId: vehicle.fleetId,
      message: renderMessage(rule.message, facts),
      startedAt: startedAtText,
      raisedAt: new Date(raisedAt).toISOString(),
      facts,
      lineage: dedupe(evidence).slice(-maxLineage),
      webhookTargetIds,
    };
    return state.active;
  }

  private clear(state: RuleState, eventTime: number): AlertMessage {
    const cleared: AlertMessage = {
      ...state.active!,
      status: 'cleared',
      clearedAt: new Date(eventTime).toISOString(),
    };
    state.active = undefined;
    state.brokenSince = undefined;
    return cleared;
  }
}

const versionKey = (rule: Rule) => `${rule.id}@${rule.version}`;

function coolingDown(tracked: TrackedRule, state: RuleState, eventTime: number): boolean {
  return state.lastRaisedAt !== undefined && eventTime - state.lastRaisedAt < tracked.cooldownMs;
}

/** Drops what can no longer matter at `eventTime`, so that a quiet rule's state becomes idle. */
function forgetExpired(tracked: TrackedRule, state: RuleState, eventTime: number): void {
  if (!state.active && state.lastRaisedAt !== undefined && !coolingDown(tracked, state, eventTime)) {
    state.lastRaisedAt = undefined;
  }
  if (state.firstStepAt !== undefined && eventTime - state.firstStepAt > tracked.spanMs) {
    state.firstStepAt = undefined;
    state.firstStepOffset = undefined;
  }
  if (state.onsets && eventTime - state.onsets.at(-1)! > tracked.spanMs) state.onsets = undefined;
}

/** Every field from the start: fields added one by one go to a separate property array (40 bytes more). */
function newRuleState(rule: number): RuleState {
  return {
    rule,
    next: undefined,
    holdingSince: undefined,
    holdingOffset: undefined,
    brokenSince: undefined,
    active: undefined,
    lastRaisedAt: undefined,
    onsets: undefined,
    firstStepAt: undefined,
    firstStepOffset: undefined,
  };
}

function stateOf(vehicle: VehicleAlerts, rule: number): RuleState | undefined {
  for (let state = vehicle.states; state && state.rule <= rule; state = state.next) {
    if (state.rule === rule) return state;
  }
  return undefined;
}

/** Adds a state to the vehicle's list, in rule order. */
function link(vehicle: VehicleAlerts, state: RuleState): void {
  let before: RuleState | undefined;
  let after = vehicle.states;
  while (after && after.rule < state.rule) {
    before = after;
    after = after.next;
  }
  state.next = after;
  if (before) before.next = state;
  else vehicle.states = state;
}

function unlink(vehicle: VehicleAlerts, state: RuleState): void {
  if (vehicle.states === state) {
    vehicle.states = state.next;
  } else {
    let before = vehicle.states!;
    while (before.next !== state) before = before.next!;
    before.next = state.next;
  }
  state.next = undefined;
}

/** A state with nothing pending is dropped, so idle rules cost a vehicle nothing. */
function isIdle(state: RuleState): boolean {
  return (
    state.holdingSince === undefined &&
    !state.active &&
    state.lastRaisedAt === undefined &&
    state.onsets === undefined &&
    state.firstStepAt === undefined
  );
}

function atOffset({ topic, partition }: LogPartition, offset: number): AlertLineage {
  return { topic, partition, offset: String(offset) };
}

function dedupe(lineage: AlertLineage[]): AlertLineage[] {
  return lineage.filter(
    (entry, index) =>
      index === 0 ||
      entry.offset !== lineage[index - 1]!.offset ||
      entry.partition !== lineage[index - 1]!.partition,
  );
}

/**
 * Deterministic, so a redelivered or replayed message yields the same alert document, never a second one. The fleet
 * is part of it because vehicle ids are unique only within a fleet.
 */
export function alertId(
  rule: Pick<Rule, 'id' | 'version'>,
  fleetId: string,
  vehicleId: string,
  startedAt: string,
): string {
  return createHash('sha256')
    .update(JSON.stringify([rule.id, rule.version, fleetId, vehicleId, startedAt]))
    .digest('hex')
    .slice(0, 32);
}

/**
 * Fills `{{name}}` with a fact, `{{position.lat}}` with a member of one (own properties only), and a derived fact by
 * its key, e.g. `{{rate:speedKph}}`. Numbers keep at most two decimals; lists are joined with commas.
 */
export function renderMessage(template: string, facts: Facts): string {
  return template.replace(/\{\{\s*([A-Za-z0-9_:]+(?:\.[A-Za-z0-9_]+)*)\s*\}\}/g, (_, path: string) => {
    let value: unknown = facts;
    for (const segment of path.split('.')) {
      value =
        typeof value === 'object' && value !== null && Object.hasOwn(value, segment)
          ? (value as Record<string, unknown>)[segment]
          : undefined;
    }
    if (typeof value === 'number') return String(Math.round(value * 100) / 100);
    if (Array.isArray(value)) return value.join(', ');
    return value === undefined || value === null || typeof value === 'object' ? '' : String(value);
  });
}
