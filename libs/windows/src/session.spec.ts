import fc from 'fast-check';
import { SessionWindows } from './session';

function sessionsFrom(gapMs: number, events: Array<[time: number, value: number]>): SessionWindows {
  const sessions = new SessionWindows(gapMs);
  for (const [time, value] of events) sessions.add(time, value);
  return sessions;
}

const summary = (sessions: SessionWindows, watermark: number) =>
  sessions.closeUntil(watermark).map(({ window, aggregate }) => ({
    window,
    count: aggregate.count,
    sum: aggregate.sum,
    first: aggregate.first,
    last: aggregate.last,
  }));

describe('SessionWindows', () => {
  it('keeps events less than the gap apart in one session and starts another after a longer pause', () => {
    const sessions = sessionsFrom(10, [
      [100, 1],
      [109, 2],
      [118, 3],
      [128, 4],
    ]);
    expect(sessions.openCount).toBe(2);
    expect(summary(sessions, 1_000)).toEqual([
      { window: { start: 100, end: 128 }, count: 3, sum: 6, first: 1, last: 3 },
      { window: { start: 128, end: 138 }, count: 1, sum: 4, first: 4, last: 4 },
    ]);
  });

  it('merges two sessions when an out-of-order event comes within the gap of both', () => {
    const sessions = sessionsFrom(10, [
      [100, 1],
      [118, 3],
    ]);
    expect(sessions.openCount).toBe(2);
    expect(sessions.add(109, 2)).toBe(true);
    expect(sessions.openCount).toBe(1);
    expect(summary(sessions, 1_000)).toEqual([
      { window: { start: 100, end: 128 }, count: 3, sum: 6, first: 1, last: 3 },
    ]);
  });

  it('extends a session backwards with an earlier event within the gap', () => {
    const sessions = sessionsFrom(10, [
      [100, 2],
      [91, 1],
    ]);
    expect(summary(sessions, 1_000)).toEqual([
      { window: { start: 91, end: 110 }, count: 2, sum: 3, first: 1, last: 2 },
    ]);
  });

  it('closes only the sessions whose last event plus the gap is at or before the watermark', () => {
    const sessions = sessionsFrom(10, [
      [100, 1],
      [105, 2],
      [130, 3],
    ]);
    expect(summary(sessions, 114)).toEqual([]);
    expect(summary(sessions, 115)).toEqual([
      { window: { start: 100, end: 115 }, count: 2, sum: 3, first: 1, last: 2 },
    ]);
    expect(sessions.openCount).toBe(1);
    expect(summary(sessions, 139)).toEqual([]);
    expect(summary(sessions, 140)).toEqual([
      { window: { start: 130, end: 140 }, count: 1, sum: 3, first: 3, last: 3 },
    ]);
    expect(sessions.openCount).toBe(0);
  });

  it('refuses an event whose own session would already be closed, but lets one join an open session', () => {
    const sessions = sessionsFrom(10, [
      [100, 1],
      [130, 3],
    ]);
    summary(sessions, 125);
    expect(sessions.add(105, 2)).toBe(false);
    expect(sessions.add(122, 2)).toBe(true);
    expect(summary(sessions, 1_000)).toEqual([
      { window: { start: 122, end: 140 }, count: 2, sum: 5, first: 2, last: 3 },
    ]);
  });

  it('does not join an event exactly the gap away from a session', () => {
    const sessions = sessionsFrom(10, [
      [100, 1],
      [120, 3],
      [110, 2],
    ]);
    expect(sessions.openCount).toBe(3);
  });

  it('ignores values that are not finite numbers', () => {
    const sessions = new SessionWindows(10);
    expect(sessions.add(100, NaN)).toBe(false);
    expect(sessions.openCount).toBe(0);
  });

  it('forms the sessions that splitting the time-ordered events at every pause of at least the gap gives', () => {
    const event = fc.tuple(fc.integer({ min: 0, max: 200 }), fc.integer({ min: -100, max: 100 }));
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 30 }), fc.array(event, { maxLength: 40 }), (gapMs, events) => {
        // A stable sort keeps arrival order among equal times, which is how first and last break ties.
        const ordered = [...events].sort(([a], [b]) => a - b);
        const expected: Array<Array<[number, number]>> = [];
        for (const [index, event] of ordered.entries()) {
          if (index === 0 || event[0] - ordered[index - 1][0] >= gapMs) expected.push([]);
          expected[expected.length - 1].push(event);
        }
        expect(summary(sessionsFrom(gapMs, events), Infinity)).toEqual(
          expected.map((session) => ({
            window: { start: session[0][0], end: session[session.length - 1][0] + gapMs },
            count: session.length,
            sum: session.reduce((total, [, value]) => total + value, 0),
            first: session[0][1],
            last: session[session.length - 1][1],
          })),
        );
      }),
      { numRuns: 1000 },
    );
  });
});
