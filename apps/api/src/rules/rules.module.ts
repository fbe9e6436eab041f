import { Module } from '@nestjs/common';
import { BroadRuleGuard } from './broad-rule-guard';
import { RuleAuditRepository } from './rule-audit.repository';
import { RuleDryRunService } from './rule-dry-run.service';
import { RulesController } from './rules.controller';
import { RulesService } from './rules.service';
import { RulesTopic } from './rules-topic';
import { TelemetryLog } from './telemetry-log';

/** Rules as operators change them (fleet.rules, the audit trail) and dry runs over recorded telemetry. */
@Module({
  controllers: [RulesController],
  providers: [RulesTopic, RuleAuditRepository, TelemetryLog, BroadRuleGuard, RulesService, RuleDryRunService],
  // A promoted replay's rule set is written through the same service, versions and audit trail included.
  exports: [RulesTopic, RuleAuditRepository, RulesService],
})
export class RulesModule {}
