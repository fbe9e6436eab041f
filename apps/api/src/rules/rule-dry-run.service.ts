import { Inject, Injectable } from '@nestjs/common';
import { Histogram, Registry } from 'prom-client';
import { z } from 'zod';
import { Backtest, compareAlerts, type AlertComparison } from '@fleetlog/cep';
import { APP_CONFIG, type ApiConfig } from '@fleetlog/config';
import type { AlertMessage } from '@fleetlog/contracts';
import type { ConsumedRecord } from '@fleetlog/kafka';
import type { Rule } from '@fleetlog/rules';
import { deviceId } from '../http/device-id';
import { Problem } from '../http/problem';
import { RulesService, ruleDocumentSchema, validRule, type RuleDocument } from './rules.service';
import { VehiclesTopic } from '../vehicles/vehicles.topic';
import { RangeTooLargeError, TelemetryLog } from './telemetry-log';

export const dryRunSchema = z
  .strictObject({
    /** A draft rule; its version defaults to the next one. */
    rule: ruleDocumentSchema,
    fleetId: deviceId.optional(),
    vehicleId: deviceId.optional(),
    from: z.iso.datetime({ offset: true }),
    to: z.iso.datetime({ offset: true }),
  })
  .refine((body) => Date.parse(body.to) > Date.parse(body.from), {
    path: ['to'],
    message: 'must be after from',
  });

export type DryRunRequest = z.infer<typeof dryRunSchema>;

export interface DryRunResult {
  rule: Rule;
  /** Telemetry records read from the log, and those of the fleet, vehicle and event-time range evaluated. */
  records: { read: number; evaluated: number };
  /** What the draft would have raised, each alert in its final state. */
  alerts: AlertMessage[];
  /** The rule with the same id as it stands, what it raised over the same records, and how the draft differs. */
  current: { version: number; enabled: boolean; alerts: AlertMessage[] } | null;
  diff: AlertComparison;
}

/**
 * Dry run: evaluates a draft rule over the telemetry recorded in a time range with cep's own engine, next to the
 * rule as it stands, in one pass over the log.
 */
@Injectable()
export class RuleDryRunService {
  private readonly seconds: Histogram;

  constructor(
    @Inject(APP_CONFIG) private readonly config: ApiConfig,
    private readonly rules: RulesService,
    private readonly log: TelemetryLog,
    private readonly vehicles: VehiclesTopic,
    metrics: Registry,
  ) {
    this.seconds = new Histogram({
      name: 'fleetlog_api_rule_dry_run_seconds',
      help: 'Rule dry runs, from request to answer',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers: [metrics],
    });
  }

  async run(request: DryRunRequest): Promise<DryRunResult> {
    const timer = this.seconds.startTimer();
    try {
      return await this.evaluate(request);
    } finally {
      timer();
    }
  }

  private async evaluate(request: DryRunRequest): Promise<DryRunResult> {
    const from = Date.parse(request.from);
    const to = Date.parse(request.to);
    const maxRangeMs = this.config.RULES_DRY_RUN_MAX_RANGE_H * 3_600_000;
    if (to - from > maxRangeMs) {
      throw invalidRequest('/to', `the range may span at most ${this.config.RULES_DRY_RUN_MAX_RANGE_H} h`);
    }
    const draft = this.draft(request.rule);
    const current = this.rules.find(draft.id);
    const options = {
      allowedLatenessMs: this.config.CEP_ALLOWED_LATENESS_MS,
      vehicleTags: this.vehicles.tagsOf,
    };
    const candidate = new Backtest([draft], options);
    const baseline = current && new Backtest([current.rule], options);
    let evaluated = 0;
    const select = recordSelector(request.fleetId, request.vehicleId, from, to);
    let read: number;
    try {
      read = await this.log.read(
        { from, to, vehicleId: request.vehicleId },
        this.config.RULES_DRY_RUN_MAX_RECORDS,
        (records) => {
          const selected = records.filter(select);
          evaluated += selected.length;
          candidate.feed(selected);
          baseline?.feed(selected);
        },
      );
    } catch (error) {
      if (!(error instanceof RangeTooLargeError)) throw error;
      throw invalidRequest(
        '/from',
        `${error.message} (RULES_DRY_RUN_MAX_RECORDS): narrow the range or name a vehicle`,
      );
    }
    const alerts = candidate.finish(to);
    const currentAlerts = baseline?.finish(to) ?? [];
    return {
      rule: draft,
      records: { read, evaluated },
      alerts,
      current: current
        ? { version: current.rule.version, enabled: current.rule.enabled, alerts: currentAlerts }
        : null,
      diff: compareAlerts(currentAlerts, alerts),
    };
  }

  private draft(draft: RuleDocument): Rule {
    const current = typeof draft.id === 'string' ? this.rules.find(draft.id) : undefined;
    return validRule({ version: (current?.rule.version ?? 0) + 1, ...draft }, '/rule');
  }
}

function invalidRequest(path: string, message: string): Problem {
  return new Problem(422, 'Invalid request', message, { errors: [{ in: 'body', path, message }] });
}

/** Records of the fleet and vehicle asked for whose event time lies in the range. */
function recordSelector(
  fleetId: string | undefined,
  vehicleId: string | undefined,
  from: number,
  to: number,
): (record: ConsumedRecord) => boolean {
  return (record) => {
    try {
      const telemetry = JSON.parse(record.value.toString('utf8')) as {
        fleetId?: unknown;
        vehicleId?: unknown;
        ts?: unknown;
      };
      if (fleetId !== undefined && telemetry.fleetId !== fleetId) return false;
      if (vehicleId !== undefined && telemetry.vehicleId !== vehicleId) return false;
      const eventTime = typeof telemetry.ts === 'string' ? Date.parse(telemetry.ts) : Number.NaN;
      return eventTime >= from && eventTime <= to;
    } catch {
      return false;
    }
  };
}
