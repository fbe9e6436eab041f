import type { JobRecord, JobState } from '@fleetlog/contracts';
import { validateRule, type Rule } from '@fleetlog/rules';
import { lagDecision, promotionSubject, ruleAdoption, versionRuleSet } from './replay-decisions';

function job(version: string, state: JobState): JobRecord {
  return { version, state, changedBy: 'test', changedAt: '2026-01-01T00:00:00.000Z' };
}

function rule(id: string, version: number, threshold = 120): Rule {
  const validation = validateRule({
    id,
    version,
    name: id,
    severity: 'warning',
    message: 'm',
    conditions: { all: [{ fact: 'speedKph', operator: 'greaterThan', value: threshold }] },
  });
  if (!validation.valid) throw new Error(JSON.stringify(validation.problems));
  return validation.rule;
}

describe('which job a promotion takes over from', () => {
  const jobs = [job('v1', 'live'), job('v2', 'replaying'), job('v0', 'retired'), job('v3', 'aborted')];

  it('promotes a replaying or a retired job in place of the live one', () => {
    expect(promotionSubject('v2', jobs)).toMatchObject({
      target: { version: 'v2' },
      live: { version: 'v1' },
    });
    expect(promotionSubject('v0', jobs)).toMatchObject({
      target: { version: 'v0' },
      live: { version: 'v1' },
    });
  });

  it('refuses an unknown job (404), the live one, an aborted one, and any while another is promoting (409)', () => {
    expect(promotionSubject('v9', jobs)).toMatchObject({ status: 404 });
    expect(promotionSubject('v1', jobs)).toMatchObject({ status: 409, title: 'Not promotable' });
    expect(promotionSubject('v3', jobs)).toMatchObject({ status: 409, title: 'Not promotable' });
    expect(promotionSubject('v2', [...jobs, job('v4', 'promoting')])).toMatchObject({
      status: 409,
      title: 'Promotion in progress',
    });
  });

  it('promotes again a job an interrupted promotion left promoting', () => {
    expect(promotionSubject('v4', [...jobs, job('v4', 'promoting')])).toMatchObject({
      target: { version: 'v4', state: 'promoting' },
      live: { version: 'v1' },
    });
  });

  it('refuses when no job is live', () => {
    expect(promotionSubject('v2', [job('v2', 'replaying')])).toMatchObject({
      status: 409,
      title: 'No live job',
    });
  });
});

describe('the lag rule', () => {
  it('promotes at or under the threshold, and over it only when forced', () => {
    expect(lagDecision({ state: 'replaying' }, 1_000, 1_000, false)).toBe('promote');
    expect(lagDecision({ state: 'replaying' }, 1_001, 1_000, false)).toBe('refuse');
    expect(lagDecision({ state: 'replaying' }, 50_000, 1_000, true)).toBe('promote');
    expect(lagDecision({ state: 'promoting' }, 1_001, 1_000, false)).toBe('refuse');
  });

  it('sends a lagging retired job back to replaying, to catch up from its own offsets', () => {
    expect(lagDecision({ state: 'retired' }, 5_000, 1_000, false)).toBe('catch-up');
    expect(lagDecision({ state: 'retired' }, 10, 1_000, false)).toBe('promote');
  });
});

describe("a replay's rule versions", () => {
  it('keeps an unchanged rule at its version, moves a changed one on, continues a new id after its history', () => {
    const current = new Map([['overspeed', rule('overspeed', 3)]]);
    const latest = new Map([['idling', 4]]);
    const versioned = versionRuleSet(
      [rule('overspeed', 1), rule('idling', 1), rule('fresh', 1)],
      (ruleId) => ({ current: current.get(ruleId), latestVersion: latest.get(ruleId) ?? 0 }),
    );
    expect(versioned.map(({ id, version }) => [id, version])).toEqual([
      ['overspeed', 3],
      ['idling', 5],
      ['fresh', 1],
    ]);
    const changed = versionRuleSet([rule('overspeed', 1, 90)], (ruleId) => ({
      current: current.get(ruleId),
      latestVersion: 3,
    }));
    expect(changed[0]!.version).toBe(4);
  });

  it('on promotion, writes what differs, deletes what the set lacks, and leaves alone what is the same', () => {
    const { steps, conflicts } = ruleAdoption(
      [rule('same', 2), rule('changed', 3, 90), rule('new', 5)],
      [rule('same', 2), rule('changed', 2), rule('gone', 7)],
      (ruleId) => (ruleId === 'new' ? 4 : 0),
    );
    expect(conflicts).toEqual([]);
    expect(steps).toEqual([
      { kind: 'update', rule: rule('changed', 3, 90), currentVersion: 2 },
      { kind: 'create', rule: rule('new', 5) },
      { kind: 'delete', ruleId: 'gone', currentVersion: 7 },
    ]);
  });

  it('names the rules fleet.rules moved past since the replay started', () => {
    const { conflicts } = ruleAdoption(
      [rule('edited', 3, 90), rule('recreated', 2)],
      [rule('edited', 3)],
      () => 3,
    );
    expect(conflicts).toEqual(['edited', 'recreated']);
  });
});
