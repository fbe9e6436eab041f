import { Aggregate } from './aggregate';
import { requirePositiveInteger } from './positive-integer';
import type { TimeWindow } from './time-window';

export interface ClosedSession {
  window: TimeWindow;
  aggregate: Aggregate;
}

interface Session {
  firstTime: number;
  lastTime: number;
  aggregate: Aggregate;
}

/**
 * One key's session windows: events less than `gapMs` apart share a session, which spans [first event time,
 * last event time + gap). An out-of-order event may land between two sessions and bridge them into one.
 */
export class SessionWindows {
  /** Disjoint, so ordered by both first and last event time. */
  private readonly sessions: Session[] = [];
  private closedUntil = -Infinity;

  constructor(private readonly gapMs: number) {
    requirePositiveInteger('session gap (ms)', gapMs);
  }

  get openCount(): number {
    return this.sessions.length;
  }

  /**
   * False, changing nothing, for a time or value that is not a finite number, or for an event that joins no open
   * session and whose own session would end by the watermark already passed to closeUntil: emitting it would
   * report a session after the sessions around it were closed.
   */
  add(time: number, value: number): boolean {
    if (!Number.isFinite(time) || !Number.isFinite(value)) return false;
    const { sessions, gapMs } = this;
    let index = 0;
    while (index < sessions.length && sessions[index].lastTime + gapMs <= time) index += 1;
    const session = sessions[index];
    if (session === undefined || session.firstTime - gapMs >= time) {
      if (time + gapMs <= this.closedUntil) return false;
      const aggregate = new Aggregate();
      aggregate.add(time, value);
      sessions.splice(index, 0, { firstTime: time, lastTime: time, aggregate });
      return true;
    }
    session.aggregate.add(time, value);
    session.firstTime = Math.min(session.firstTime, time);
    session.lastTime = Math.max(session.lastTime, time);
    const next = sessions[index + 1];
    if (next !== undefined && next.firstTime - gapMs < session.lastTime) {
      session.aggregate.merge(next.aggregate);
      session.lastTime = next.lastTime;
      sessions.splice(index + 1, 1);
    }
    return true;
  }

  /** Removes and returns, oldest first, the sessions that end by `watermark`: no event from then on can reach them. */
  closeUntil(watermark: number): ClosedSession[] {
    this.closedUntil = Math.max(this.closedUntil, watermark);
    let closing = 0;
    while (closing < this.sessions.length && this.sessions[closing].lastTime + this.gapMs <= watermark)
      closing += 1;
    return this.sessions.splice(0, closing).map(({ firstTime, lastTime, aggregate }) => ({
      window: { start: firstTime, end: lastTime + this.gapMs },
      aggregate,
    }));
  }
}
