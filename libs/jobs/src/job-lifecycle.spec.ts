import type { JobRecord } from '@fleetlog/contracts';
import { followsRuleTopic, jobsToRun, notificationDecision } from './job-lifecycle';

const job = (version: string, state: JobRecord['state'], extra: Partial<JobRecord> = {}): JobRecord => ({
  version,
  state,
  changedBy: 'test',
  changedAt: '2026-12-03T06:00:00Z',
  ...extra,
});
const at = (partition: number, offset: number) => ({
  topic: 'fleet.telemetry',
  partition,
  offset: String(offset),
});
const table = (...jobs: JobRecord[]) => new Map(jobs.map((entry) => [entry.version, entry]));

describe('jobsToRun', () => {
  it('runs the live job and every replay', () => {
    const run = jobsToRun([
      job('v1', 'live'),
      job('v2', 'replaying'),
      job('v0', 'retired'),
      job('v3', 'aborted'),
    ]);
    expect(run.map((entry) => entry.version)).toEqual(['v1', 'v2']);
  });

  it('stops the live job while another is being promoted, so the successor takes over where it committed', () => {
    expect(jobsToRun([job('v1', 'live'), job('v2', 'promoting')]).map((entry) => entry.version)).toEqual([
      'v2',
    ]);
  });

  it('does not restart a live job that its promoted successor replaced, before it is marked retired', () => {
    const run = jobsToRun([job('v1', 'live'), job('v2', 'live', { previous: 'v1', handover: {} })]);
    expect(run.map((entry) => entry.version)).toEqual(['v2']);
  });
});

describe('followsRuleTopic', () => {
  it('lets a replay keep its own rules until it is promoted, then follow fleet.rules', () => {
    expect(followsRuleTopic(job('v2', 'replaying', { rules: [] }))).toBe(false);
    expect(followsRuleTopic(job('v2', 'promoting', { rules: [] }))).toBe(false);
    expect(followsRuleTopic(job('v2', 'live', { rules: [] }))).toBe(true);
    expect(followsRuleTopic(job('v2', 'replaying'))).toBe(true);
  });
});

describe('notificationDecision', () => {
  const handover = { '0': '100', '1': '50' };
  const promoted = table(job('v1', 'retired'), job('v2', 'live', { previous: 'v1', handover }));

  it('never notifies what a replay or an aborted job decides', () => {
    const jobs = table(job('v1', 'live'), job('v2', 'replaying'), job('v3', 'aborted'));
    expect(notificationDecision({ jobVersion: 'v2', decidedAt: at(0, 5) }, jobs)).toBe('skip');
    expect(notificationDecision({ jobVersion: 'v3', decidedAt: at(0, 5) }, jobs)).toBe('skip');
    expect(notificationDecision({ jobVersion: 'v1', decidedAt: at(0, 5) }, jobs)).toBe('notify');
  });

  it('hands notification over at the handover offset of each partition, without a gap or a repeat', () => {
    const decide = (jobVersion: string, partition: number, offset: number) =>
      notificationDecision({ jobVersion, decidedAt: at(partition, offset) }, promoted);
    expect([decide('v1', 0, 99), decide('v2', 0, 99)]).toEqual(['notify', 'skip']);
    expect([decide('v1', 0, 100), decide('v2', 0, 100)]).toEqual(['skip', 'notify']);
    expect([decide('v1', 1, 49), decide('v2', 1, 50)]).toEqual(['notify', 'notify']);
    // A partition the old job never committed belongs to the new one from its start.
    expect([decide('v1', 2, 0), decide('v2', 2, 0)]).toEqual(['skip', 'notify']);
  });

  it('waits while the job is being promoted or not yet in the table', () => {
    const jobs = table(job('v1', 'live'), job('v2', 'promoting'));
    expect(notificationDecision({ jobVersion: 'v2', decidedAt: at(0, 1) }, jobs)).toBe('wait');
    expect(notificationDecision({ jobVersion: 'v9', decidedAt: at(0, 1) }, jobs)).toBe('wait');
  });

  it('notifies alerts from before jobs had versions', () => {
    expect(notificationDecision({}, promoted)).toBe('notify');
  });
});
