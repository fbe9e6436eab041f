import { sourceTime } from './source-time';

const now = Date.parse('2026-12-03T12:00:00Z');
const minutes = (n: number) => n * 60_000;

describe('sourceTime', () => {
  it('is now when no gateway writes progress, so telemetry written to Kafka directly keeps wall-clock timers', () => {
    expect(sourceTime([], now, minutes(5))).toBe(now);
  });

  it('holds back to the gateway furthest behind, whose backlog is not in the log yet', () => {
    expect(sourceTime([now - 1_000, now - 40_000, now - 2_000], now, minutes(5))).toBe(now - 40_000);
  });

  it('leaves out a gateway not heard from for longer than the expiry', () => {
    expect(sourceTime([now - 1_000, now - minutes(6)], now, minutes(5))).toBe(now - 1_000);
    expect(sourceTime([now - minutes(6)], now, minutes(5))).toBe(now);
  });

  it('never runs ahead of now, whatever a gateway with a fast clock says', () => {
    expect(sourceTime([now + 5_000], now, minutes(5))).toBe(now);
  });
});
