import type { AlertMessage } from '@fleetlog/contracts';
import { datasetNames } from '@fleetlog/elasticsearch';
import type { ConsumedRecord } from '@fleetlog/kafka';
import type { Rule, VehicleTagLookup } from '@fleetlog/rules';
import { StreamProcessor } from './stream-processor';

export interface BacktestOptions {
  /** As cep runs with: it decides which records count as late and when absences fire. */
  allowedLatenessMs: number;
  /** The vehicles' tags as they are now, as cep judges by them. */
  vehicleTags: VehicleTagLookup;
}

/** A backtest stores nothing: these names only satisfy the processor, whose writes are dropped. */
const unusedIndices = datasetNames('', 'backtest');

/**
 * Runs a rule set over recorded telemetry with cep's own engine and keeps the alerts it would have raised, one per
 * alert id in its final state (active, or cleared). Records are fed in chunks as they are read, each partition in
 * log order, so a long range never has to sit in memory.
 */
export class Backtest {
  private readonly processor: StreamProcessor;
  private readonly alerts = new Map<string, AlertMessage>();

  constructor(
    rules: readonly Rule[],
    private readonly options: BacktestOptions,
  ) {
    this.processor = new StreamProcessor(rules, {
      // Nothing a dry run decides is notified or stored under a job.
      jobVersion: 'dry-run',
      documents: 'derived',
      indices: unusedIndices,
      allowedLatenessMs: options.allowedLatenessMs,
      aggregateWindowMs: 60_000,
      maxRebuildMs: 3_600_000,
      maxAggregatesPerCall: Infinity,
      vehicleTags: options.vehicleTags,
    });
  }

  feed(records: readonly ConsumedRecord[]): void {
    this.keep(this.processor.process(records).alerts);
  }

  /**
   * The alerts, once the range is read: the clock is moved to `until` (event time), so that vehicles silent at the
   * end of the range raise their absence alerts as cep would have, and no later.
   */
  finish(until: number): AlertMessage[] {
    const partitions = this.processor.assignedPartitions;
    this.keep(this.processor.advanceClock(until + this.options.allowedLatenessMs, partitions).alerts);
    return [...this.alerts.values()].sort(
      (a, b) => a.startedAt.localeCompare(b.startedAt) || alertKey(a).localeCompare(alertKey(b)),
    );
  }

  private keep(transitions: readonly AlertMessage[]): void {
    for (const alert of transitions) this.alerts.set(alert.alertId, alert);
  }
}

/** What an alert says, beyond who and when it started: the fields a rule change can alter. */
const comparedFields = ['status', 'raisedAt', 'clearedAt', 'severity', 'ruleName', 'message'] as const;

export interface ChangedAlert {
  before: AlertMessage;
  after: AlertMessage;
  fields: Array<(typeof comparedFields)[number]>;
}

export interface AlertComparison {
  /** Raised by the candidate only. */
  added: AlertMessage[];
  /** Raised by the baseline only. */
  removed: AlertMessage[];
  /** Raised by both for the same vehicle and start, but different in what they say or when they cleared. */
  changed: ChangedAlert[];
  unchanged: number;
}

/**
 * Compares the alerts of two versions of a rule. Alert ids include the rule version, so alerts are matched by
 * fleet, vehicle, rule and the event time their condition started to hold.
 */
export function compareAlerts(
  baseline: readonly AlertMessage[],
  candidate: readonly AlertMessage[],
): AlertComparison {
  const before = new Map(baseline.map((alert) => [alertKey(alert), alert]));
  const comparison: AlertComparison = { added: [], removed: [], changed: [], unchanged: 0 };
  const matched = new Set<string>();
  for (const after of candidate) {
    const key = alertKey(after);
    const previous = before.get(key);
    if (!previous) {
      comparison.added.push(after);
      continue;
    }
    matched.add(key);
    const fields = comparedFields.filter((field) => previous[field] !== after[field]);
    if (fields.length === 0) comparison.unchanged++;
    else comparison.changed.push({ before: previous, after, fields });
  }
  comparison.removed = baseline.filter((alert) => !matched.has(alertKey(alert)));
  return comparison;
}

function alertKey(alert: AlertMessage): string {
  return JSON.stringify([alert.fleetId, alert.vehicleId, alert.ruleId, alert.startedAt]);
}
