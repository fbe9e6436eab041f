import { afterFailure, retryDelay, type RetrySchedule } from './retry-schedule';

const schedule: RetrySchedule = { maxAttempts: 8, initialDelayMs: 6 * 60_000, maxDelayMs: 6 * 3_600_000 };
const now = new Date('2026-12-03T06:00:00Z');

describe('retryDelay', () => {
  it('draws from zero up to a ceiling that doubles per failed attempt (full jitter)', () => {
    expect(retryDelay(1, schedule, () => 0)).toBe(0);
    expect(retryDelay(1, schedule, () => 1)).toBe(6 * 60_000);
    expect(retryDelay(3, schedule, () => 1)).toBe(24 * 60_000);
    expect(retryDelay(3, schedule, () => 0.5)).toBe(12 * 60_000);
  });

  it('never waits longer than the maximum', () => {
    expect(retryDelay(30, schedule, () => 1)).toBe(6 * 3_600_000);
  });

  it('spreads the default eight attempts over about six hours on average', () => {
    const expectedTotal = Array.from({ length: 7 }, (_, index) =>
      retryDelay(index + 1, schedule, () => 0.5),
    ).reduce((sum, delay) => sum + delay);
    expect(expectedTotal / 3_600_000).toBeCloseTo(6.15, 2);
  });
});

describe('afterFailure', () => {
  it('schedules the next attempt after a jittered delay', () => {
    expect(afterFailure(2, { kind: 'failed', reason: 'HTTP 500' }, schedule, now, () => 1)).toEqual({
      kind: 'retry',
      attempt: 3,
      dueAt: new Date(now.getTime() + 12 * 60_000),
    });
  });

  it('parks after the last attempt, saying how many there were', () => {
    expect(afterFailure(8, { kind: 'failed', reason: 'HTTP 503' }, schedule, now)).toEqual({
      kind: 'park',
      reason: 'HTTP 503 (after 8 attempts)',
    });
  });

  it('parks a refusal at once, however many attempts are left', () => {
    const reason = 'ssrf: internal resolves to 10.0.0.1 (private)';
    expect(afterFailure(1, { kind: 'refused', reason }, schedule, now)).toEqual({ kind: 'park', reason });
  });
});
