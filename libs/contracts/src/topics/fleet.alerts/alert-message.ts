export type AlertSeverity = 'info' | 'warning' | 'critical';
export type AlertStatus = 'active' | 'cleared';

/** Where in the log the evidence for an alert lies: replaying these offsets reproduces it. */
export interface AlertLineage {
  topic: string;
  partition: number;
  offset: string;
}

/** The value of a fleet.alerts record (key: alertId) and the body of the Elasticsearch alert document. */
export interface AlertMessage {
  /** Deterministic: hash(ruleId, ruleVersion, fleetId, vehicleId, startedAt). Redelivery and replays reuse it. */
  alertId: string;
  status: AlertStatus;
  ruleId: string;
  ruleVersion: number;
  ruleName: string;
  severity: AlertSeverity;
  vehicleId: string;
  fleetId: string;
  message: string;
  /** Event time at which the condition started to hold. */
  startedAt: string;
  /** Event time of the message that raised the alert. */
  raisedAt: string;
  /** Event time of the message that cleared it. */
  clearedAt?: string;
  /** The facts that made the rule fire, for the reader of the alert. */
  facts: Record<string, unknown>;
  lineage: AlertLineage[];
  /**
   * The webhook targets the rule's `actions` name: each receives this alert's transitions whatever its own filters.
   * Absent when the rule names none.
   */
  webhookTargetIds?: string[];
  /** The cep job that decided this transition (fleet.jobs); absent on alerts from before jobs had versions. */
  jobVersion?: string;
  /**
   * Where in fleet.telemetry the transition was decided: the record being processed, or, for one fired by a timer
   * or a rule change, the partition's next offset. The notifier compares it with a promoted job's handover offsets.
   */
  decidedAt?: AlertLineage;
}
