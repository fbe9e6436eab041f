/**
 * Where a cep job is in its life. `replaying`: reading the log into its own indices, alerts indexed but never
 * notified. `promoting`: the live job has been asked to stop; its successor keeps running. `live`: its alerts are
 * notified and the read aliases point at its indices. `retired`: replaced by another live job, its indices kept for a
 * rollback until cleaned up. `aborted`: stopped before promotion.
 */
export type JobState = 'replaying' | 'promoting' | 'live' | 'retired' | 'aborted';

/**
 * The value of a fleet.jobs record: compacted, keyed by job version (`v1`, `v2`, ...). A cep job is one consumer group
 * (`cep-<version>`) over fleet.telemetry writing the `*-<version>` indices. Every cep instance runs every job that is
 * replaying, promoting or live.
 */
export interface JobRecord {
  version: string;
  state: JobState;
  /**
   * The rule set a replay evaluates (rule documents, as in docs/rule.v1.schema.json). Absent: the job follows
   * fleet.rules, as the live job does; promotion writes a replay's rules to fleet.rules.
   */
  rules?: unknown[];
  /** Where a replay starts reading the log (ISO time of the Kafka records); absent: the beginning. */
  from?: string;
  /**
   * For a job that became live by promotion: per fleet.telemetry partition, the offset from which its alert
   * transitions are notified, i.e. where the job it replaced stopped. Transitions decided before it were the previous
   * job's to notify.
   */
  handover?: Record<string, string>;
  /** The job this one replaced (live) or was started to replace (replaying). */
  previous?: string;
  changedBy: string;
  changedAt: string;
}
