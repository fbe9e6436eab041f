import type { AlertMessage, JobRecord } from '@fleetlog/contracts';

/**
 * The jobs a cep instance runs: every replay, the job being promoted, and the live job unless a promotion has asked
 * it to stop (its successor takes over from where it committed).
 */
export function jobsToRun(jobs: readonly JobRecord[]): JobRecord[] {
  const promoting = jobs.some((job) => job.state === 'promoting');
  // A promotion writes two records, the new live job and the old one retired; between them the old one is
  // superseded already.
  const superseded = new Set(jobs.filter((job) => job.state === 'live').map((job) => job.previous));
  return jobs.filter(
    (job) =>
      job.state === 'replaying' ||
      job.state === 'promoting' ||
      (job.state === 'live' && !promoting && !superseded.has(job.version)),
  );
}

/** Whether a job evaluates its own snapshot of rules (a replay, until promoted) or follows fleet.rules. */
export function followsRuleTopic(job: JobRecord): boolean {
  return job.rules === undefined || job.state === 'live';
}

export type NotificationDecision = 'notify' | 'skip' | 'wait';

/**
 * Whether an alert transition goes out as webhooks, so that a replay never notifies the past and a promotion hands
 * notification over at one log position per partition, without a gap or a repeat:
 * - alerts from before jobs had versions, and those of the live job that was never promoted: notified;
 * - a replay's (or an aborted job's): never;
 * - while its job is being promoted (the handover not yet known): wait;
 * - a promoted live job's: those decided at or after its handover offset of that partition;
 * - a retired job's: those decided before its successor's handover (decided while it was live, read late);
 * - a job not (yet) in the table: wait, it is being written.
 */
export function notificationDecision(
  alert: Pick<AlertMessage, 'jobVersion' | 'decidedAt'>,
  jobs: ReadonlyMap<string, JobRecord>,
): NotificationDecision {
  if (alert.jobVersion === undefined) return 'notify';
  const job = jobs.get(alert.jobVersion);
  if (!job) return 'wait';
  const decidedAt = alert.decidedAt;
  switch (job.state) {
    case 'replaying':
    case 'aborted':
      return 'skip';
    case 'promoting':
      return 'wait';
    case 'live':
      if (!job.handover || !decidedAt) return 'notify';
      return beforeHandover(decidedAt, job.handover) ? 'skip' : 'notify';
    case 'retired': {
      const successor = [...jobs.values()].find(
        (candidate) => candidate.previous === job.version && candidate.handover !== undefined,
      );
      if (!successor || !decidedAt) return 'notify';
      return beforeHandover(decidedAt, successor.handover!) ? 'notify' : 'skip';
    }
  }
}

function beforeHandover(
  decidedAt: NonNullable<AlertMessage['decidedAt']>,
  handover: Readonly<Record<string, string>>,
): boolean {
  const offset = handover[String(decidedAt.partition)];
  // A partition the previous job never committed: everything on it is the new job's to notify.
  return offset !== undefined && BigInt(decidedAt.offset) < BigInt(offset);
}
