import { Injectable } from '@nestjs/common';
import type { Rule } from '@fleetlog/rules';
import { Problem } from '../http/problem';
import { broadMatch, isBroad, isJudgedPerMessage, RuleBreadthMeter } from './rule-breadth';
import { VehiclesTopic } from '../vehicles/vehicles.topic';
import { TelemetryLog } from './telemetry-log';

/** The recent traffic a new rule is measured against: what vehicles send now, bounded so a write stays quick. */
const sample = { windowMs: 15 * 60_000, maxRecords: 10_000 };

/**
 * A rule whose conditions hold for nearly every message of nearly every vehicle raises an alert for the whole fleet
 * at once and keeps it raised: almost always a mistake (a threshold on the wrong side, `notEqual` for `equal`). Such a
 * write is refused unless the operator says it is meant.
 */
@Injectable()
export class BroadRuleGuard {
  constructor(
    private readonly log: TelemetryLog,
    private readonly vehicles: VehiclesTopic,
  ) {}

  async refuseIfBroad(rule: Rule): Promise<void> {
    if (!isJudgedPerMessage(rule)) return;
    const meter = new RuleBreadthMeter(rule, this.vehicles.tagsOf);
    await this.log.readNewest(
      Date.now() - sample.windowMs,
      { min: broadMatch.minMessages, max: sample.maxRecords },
      (records) => meter.feed(records),
    );
    const breadth = meter.result();
    if (!isBroad(breadth)) return;
    const share = Math.floor((100 * breadth.matched) / breadth.messages);
    const message =
      `holds for ${share}% of the last ${breadth.messages} messages, for ${breadth.vehiclesMatched} of ` +
      `${breadth.vehicles} vehicles: each of them would raise this alert at once. ` +
      'If that is meant, send the rule again with ?acceptBroadMatch=true.';
    throw new Problem(422, 'Rule matches nearly everything', message, {
      errors: [{ in: 'body', path: '/conditions', message }],
      breadth,
    });
  }
}
