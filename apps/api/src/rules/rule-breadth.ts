import { decodeTelemetryRecord } from '@fleetlog/contracts';
import type { ConsumedRecord } from '@fleetlog/kafka';
import {
  compileRules,
  conditionSetsOf,
  fieldsReadBy,
  inScope,
  isParameterizedFact,
  secondsSinceLastMessage,
  type CompiledRuleSet,
  type Condition,
  type Facts,
  type Rule,
  type VehicleTagLookup,
} from '@fleetlog/rules';

/** How much of the recent traffic a rule's conditions hold for. */
export interface RuleBreadth {
  /** Messages carrying a field the rule reads (others tell nothing about it), and those its conditions hold for. */
  messages: number;
  matched: number;
  /** Vehicles that sent such messages, and those for which the conditions held on nearly all of them. */
  vehicles: number;
  vehiclesMatched: number;
}

/**
 * "Nearly every message of nearly every vehicle", and only on a sample large enough to say so: a fleet of three
 * test vehicles that all happen to idle proves nothing.
 */
export const broadMatch = { minMessages: 100, minVehicles: 10, share: 0.95 } as const;

export function isBroad(breadth: RuleBreadth): boolean {
  return (
    breadth.messages >= broadMatch.minMessages &&
    breadth.vehicles >= broadMatch.minVehicles &&
    breadth.matched >= broadMatch.share * breadth.messages &&
    breadth.vehiclesMatched >= broadMatch.share * breadth.vehicles
  );
}

/**
 * Whether one message says if the rule holds: its conditions read message fields only, and it raises as soon as
 * (or as long as) they hold. Rules on windows, changes, rates or silence, counting rules and absence rules need a
 * vehicle's history: the dry run (POST /rules/test) shows what they raise.
 */
export function isJudgedPerMessage(rule: Rule): boolean {
  const trees = [rule.conditions, rule.then?.conditions].filter((tree) => tree !== undefined);
  return (
    rule.enabled &&
    rule.absence === undefined &&
    rule.count === undefined &&
    trees.length > 0 &&
    trees.every((tree) =>
      factsOf(tree).every((fact) => !isParameterizedFact(fact) && fact !== secondsSinceLastMessage),
    )
  );
}

/** Measures a rule's breadth over telemetry records as they are in fleet.telemetry. */
export class RuleBreadthMeter {
  private readonly evaluator: CompiledRuleSet;
  private readonly fields: string[];
  private readonly perVehicle = new Map<string, { messages: number; matched: number }>();

  constructor(
    private readonly rule: Rule,
    private readonly vehicleTags: VehicleTagLookup,
  ) {
    this.evaluator = compileRules(conditionSetsOf([rule]));
    this.fields = [rule.conditions, rule.then?.conditions]
      .filter((tree) => tree !== undefined)
      .flatMap(fieldsReadBy);
  }

  feed(records: readonly ConsumedRecord[]): void {
    for (const record of records) {
      const facts = decodeTelemetryRecord(record.value) as Facts | undefined;
      if (!facts || !this.fields.some((field) => facts[field] !== undefined)) continue;
      const vehicle = `${String(facts.fleetId)}/${String(facts.vehicleId)}`;
      const counts = this.perVehicle.get(vehicle) ?? { messages: 0, matched: 0 };
      counts.messages++;
      if (this.holds(facts)) counts.matched++;
      this.perVehicle.set(vehicle, counts);
    }
  }

  result(): RuleBreadth {
    const breadth: RuleBreadth = { messages: 0, matched: 0, vehicles: 0, vehiclesMatched: 0 };
    for (const { messages, matched } of this.perVehicle.values()) {
      breadth.messages += messages;
      breadth.matched += matched;
      breadth.vehicles++;
      if (matched >= broadMatch.share * messages) breadth.vehiclesMatched++;
    }
    return breadth;
  }

  private holds(facts: Facts): boolean {
    const fleetId = facts.fleetId as string;
    const vehicleId = facts.vehicleId as string;
    if (!inScope(this.rule, fleetId, vehicleId, this.vehicleTags(fleetId, vehicleId))) return false;
    try {
      return this.evaluator.matchSync(facts).size === this.evaluator.ruleIds.length;
    } catch {
      return false;
    }
  }
}

function factsOf(condition: Condition): string[] {
  if ('all' in condition) return condition.all.flatMap(factsOf);
  if ('any' in condition) return condition.any.flatMap(factsOf);
  if ('not' in condition) return factsOf(condition.not);
  return [condition.fact];
}
