import type { CarObdReading, ReplayMessage } from './carobd';

/**
 * What cep must produce for a replay, worked out here from the readings alone, straight from the documented
 * semantics (docs/rules.md, the rule schema, the sliding window's pane definition, the aggregate document) and
 * without any of the engine's classes: a test that asked the engine for its expectations would only check that it
 * agrees with itself.
 */

/** One vehicle's in-order messages, and the index of the one being evaluated. */
export type Condition = (messages: readonly ReplayMessage[], index: number) => boolean;

export interface ReferenceRule {
  id: string;
  version: number;
  holds: Condition;
  /** The condition must hold continuously this long (event time) before the alert is raised. */
  forMs: number;
  /** After raising, no other alert of this rule for the vehicle within this time. */
  cooldownMs: number;
}

/** `rate` of a field: its change since the vehicle's previous message, per second of event time. */
export function rateOf(
  messages: readonly ReplayMessage[],
  index: number,
  field: keyof CarObdReading,
): number | undefined {
  if (index === 0) return undefined;
  const previous = messages[index - 1]!;
  const current = messages[index]!;
  const seconds = (current.time - previous.time) / 1000;
  return seconds > 0 ? (current.reading[field] - previous.reading[field]) / seconds : undefined;
}

/**
 * `window` avg of a field over `sizeMs`. The window is kept in ten panes (docs/rules.md): time is cut into panes of
 * sizeMs / 10, and the window at a message takes that message and every earlier one of the vehicle in its pane or
 * the 9 panes before it (libs/windows' SlidingWindow documents exactly this).
 */
export function windowAverage(
  messages: readonly ReplayMessage[],
  index: number,
  field: keyof CarObdReading,
  sizeMs: number,
): number | undefined {
  const paneMs = sizeMs / 10;
  const firstPane = Math.floor(messages[index]!.time / paneMs) - 9;
  let sum = 0;
  let count = 0;
  for (let earlier = index; earlier >= 0; earlier--) {
    if (Math.floor(messages[earlier]!.time / paneMs) < firstPane) break;
    sum += messages[earlier]!.reading[field];
    count++;
  }
  return count === 0 ? undefined : sum / count;
}

export interface ExpectedAlert {
  ruleId: string;
  ruleVersion: number;
  vehicleId: string;
  startedAt: string;
  raisedAt: string;
  /** Absent while the condition still held at the end of the drive. */
  clearedAt?: string;
}

/**
 * A rule over one vehicle's messages in event-time order: the alert is raised at the first message at which the
 * condition has held for `forMs` since the first message of the unbroken run (its startedAt), unless the rule raised
 * one less than `cooldownMs` before; it clears at the first message at which the condition no longer holds.
 */
export function expectedAlerts(rule: ReferenceRule, vehicleId: string, messages: readonly ReplayMessage[]) {
  const alerts: ExpectedAlert[] = [];
  let holdingSince: number | undefined;
  let active: ExpectedAlert | undefined;
  let lastRaisedAt = -Infinity;
  messages.forEach(({ time }, index) => {
    if (!rule.holds(messages, index)) {
      holdingSince = undefined;
      if (active) active.clearedAt = new Date(time).toISOString();
      active = undefined;
      return;
    }
    holdingSince ??= time;
    if (active || time - holdingSince < rule.forMs || time - lastRaisedAt < rule.cooldownMs) return;
    active = {
      ruleId: rule.id,
      ruleVersion: rule.version,
      vehicleId,
      startedAt: new Date(holdingSince).toISOString(),
      raisedAt: new Date(time).toISOString(),
    };
    lastRaisedAt = time;
    alerts.push(active);
  });
  return alerts;
}

/** The transitions an alert puts on fleet.alerts: active, then cleared if it cleared. */
export function transitionsOf(alert: ExpectedAlert): Array<ExpectedAlert & { status: 'active' | 'cleared' }> {
  const { clearedAt, ...raised } = alert;
  return clearedAt === undefined
    ? [{ ...raised, status: 'active' }]
    : [
        { ...raised, status: 'active' },
        { ...raised, clearedAt, status: 'cleared' },
      ];
}

export interface ExpectedMinute {
  vehicleId: string;
  '@timestamp': string;
  messages: number;
  avgSpeedKph: number;
  maxSpeedKph: number;
  maxRpm: number;
  maxCoolantTempC: number;
  distanceKm: number;
  idleSeconds: number;
  harshEvents: number;
  fuelUsedPct: number;
}

/** The aggregate document's thresholds for a harsh event, in km/h per second. */
const harshBraking = -12;
const harshAcceleration = 10;
/** A longer gap between two messages is the vehicle off or out of reach: it adds no distance or idling. */
const maxGapMs = 60_000;

/**
 * Per vehicle and tumbling window: messages and readings of the messages in it; distance as speed integrated by
 * trapezoids between consecutive messages, idling as the time after a message at 0 km/h with the engine turning,
 * harsh events as onsets of a speed change beyond the thresholds, each interval credited to the window of its
 * later message; fuel used as the drop in tank level from the window's first message to its last.
 */
export function expectedMinutes(
  vehicleId: string,
  messages: readonly ReplayMessage[],
  windowMs: number,
): ExpectedMinute[] {
  const minutes = new Map<
    number,
    ExpectedMinute & { speedSum: number; firstFuel: number; lastFuel: number }
  >();
  let previousHarsh = false;
  messages.forEach(({ time, reading }, index) => {
    const start = Math.floor(time / windowMs) * windowMs;
    let minute = minutes.get(start);
    if (!minute) {
      minute = {
        vehicleId,
        '@timestamp': new Date(start).toISOString(),
        messages: 0,
        avgSpeedKph: 0,
        maxSpeedKph: -Infinity,
        maxRpm: -Infinity,
        maxCoolantTempC: -Infinity,
        distanceKm: 0,
        idleSeconds: 0,
        harshEvents: 0,
        fuelUsedPct: 0,
        speedSum: 0,
        firstFuel: reading.fuelLevelPct,
        lastFuel: reading.fuelLevelPct,
      };
      minutes.set(start, minute);
    }
    minute.messages++;
    minute.speedSum += reading.speedKph;
    minute.maxSpeedKph = Math.max(minute.maxSpeedKph, reading.speedKph);
    minute.maxRpm = Math.max(minute.maxRpm, reading.rpm);
    minute.maxCoolantTempC = Math.max(minute.maxCoolantTempC, reading.coolantTempC);
    minute.lastFuel = reading.fuelLevelPct;
    const previous = messages[index - 1];
    if (!previous) return;
    const gapMs = time - previous.time;
    if (gapMs <= 0 || gapMs > maxGapMs) {
      previousHarsh = false;
      return;
    }
    minute.distanceKm += ((previous.reading.speedKph + reading.speedKph) / 2) * (gapMs / 3_600_000);
    const rate = (reading.speedKph - previous.reading.speedKph) / (gapMs / 1000);
    const harsh = rate <= harshBraking || rate >= harshAcceleration;
    if (harsh && !previousHarsh) minute.harshEvents++;
    previousHarsh = harsh;
    if (previous.reading.speedKph === 0 && previous.reading.rpm > 0) minute.idleSeconds += gapMs / 1000;
  });
  return [...minutes.values()].map(({ speedSum, firstFuel, lastFuel, ...minute }) => ({
    ...minute,
    avgSpeedKph: speedSum / minute.messages,
    fuelUsedPct: Math.max(0, firstFuel - lastFuel),
  }));
}
