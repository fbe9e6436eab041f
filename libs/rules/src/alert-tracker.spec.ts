import type { AlertMessage } from '@fleetlog/contracts';
import { AlertTracker, alertId, type VehicleAlerts } from './alert-tracker';
import { compileRules } from './compiled-evaluator';
import { conditionSetsOf, type Facts } from './condition-evaluator';
import { informedConditionSets } from './fact-catalog';
import { validateRule, type Rule } from './rule-schema';

function rule(overrides: Record<string, unknown> = {}): Rule {
  const validation = validateRule({
    id: 'overspeed',
    version: 2,
    name: 'Overspeed',
    severity: 'warning',
    conditions: { all: [{ fact: 'speedKph', operator: 'greaterThan', value: 120 }] },
    message: '{{vehicleId}} at {{speedKph}} km/h',
    ...overrides,
  });
  if (!validation.valid) throw new Error(JSON.stringify(validation.problems));
  return validation.rule;
}

const t0 = Date.parse('2026-11-23T12:00:00Z');
const at = (second: number) => new Date(t0 + second * 1000).toISOString();

/** Feeds one vehicle's messages (second → facts) through evaluator and tracker, as cep does. */
class Drive {
  readonly transitions: AlertMessage[] = [];
  readonly tracker: AlertTracker;
  readonly vehicle: VehicleAlerts;
  private readonly evaluator;
  private readonly holds: Uint8Array;
  private readonly informs: Uint8Array;
  private readonly matched: Uint32Array;
  private readonly fillInforms;

  /** The vehicle's last message, which the tracker's caller remembers. */
  readonly last = { eventTime: -Infinity, source: { topic: 'fleet.telemetry', partition: 0 }, offset: -1 };

  constructor(rules: Rule[], fleetId = 'acme', vehicleId = 'truck-1', tags: readonly string[] = []) {
    const sets = conditionSetsOf(rules);
    this.evaluator = compileRules(sets);
    this.tracker = new AlertTracker(rules, this.evaluator.ruleIds);
    this.vehicle = {
      fleetId,
      vehicleId,
      applicable: this.tracker.applicableTo(fleetId, vehicleId, tags),
      states: undefined,
    };
    this.holds = new Uint8Array(sets.length);
    this.informs = new Uint8Array(sets.length);
    this.matched = new Uint32Array(sets.length);
    this.fillInforms = informedConditionSets(sets);
  }

  message(second: number, facts: Facts): this {
    this.holds.fill(0);
    const count = this.evaluator.matchInto(facts, this.matched);
    for (let index = 0; index < count; index++) this.holds[this.matched[index]!] = 1;
    this.fillInforms(facts, this.informs);
    const observation = {
      vehicleId: this.vehicle.vehicleId,
      fleetId: this.vehicle.fleetId,
      eventTime: t0 + second * 1000,
      facts,
      source: { topic: 'fleet.telemetry', partition: 0 },
      offset: second,
    };
    this.tracker.observe(this.vehicle, observation, this.holds, this.informs, this.transitions);
    this.last.eventTime = observation.eventTime;
    this.last.offset = observation.offset;
    return this;
  }

  speeds(speeds: number[]): this {
    speeds.forEach((speedKph, second) => this.message(second, { speedKph }));
    return this;
  }

  /** The vehicle's tags changed (fleet.vehicles): the tracker re-scopes it, as cep does. */
  retag(tags: readonly string[]): this {
    this.tracker.carryOver(this.tracker, this.vehicle, tags, this.last.eventTime, this.transitions);
    return this;
  }

  clock(second: number): this {
    this.tracker.raiseAbsences(this.vehicle, this.last, t0 + second * 1000, this.transitions);
    return this;
  }

  get absenceDeadline(): number | undefined {
    return this.tracker.absenceDeadline(this.vehicle, this.last.eventTime);
  }

  get summary(): Array<[string, string | undefined]> {
    return this.transitions.map((alert) => [
      alert.status,
      alert.status === 'active' ? alert.raisedAt : alert.clearedAt,
    ]);
  }
}

describe('AlertTracker: for, cooldown, clearAfter', () => {
  it('raises when the condition holds and clears when it stops holding', () => {
    const drive = new Drive([rule()]).speeds([100, 130, 131, 90]);
    expect(drive.summary).toEqual([
      ['active', at(1)],
      ['cleared', at(3)],
    ]);
    expect(drive.transitions[0]!.message).toBe('truck-1 at 130 km/h');
    expect(drive.transitions[1]!.alertId).toBe(drive.transitions[0]!.alertId);
  });

  it('waits until the condition has held for the whole "for" duration, in event time', () => {
    const drive = new Drive([rule({ for: '3s' })]).speeds([130, 130, 130, 130, 130]);
    expect(drive.summary).toEqual([['active', at(3)]]);
    expect(drive.transitions[0]!.startedAt).toBe(at(0));
  });

  it('measures "for" in event time, whatever the message rate', () => {
    const drive = new Drive([rule({ for: '10s' })])
      .message(0, { speedKph: 130 })
      .message(10, { speedKph: 130 });
    expect(drive.summary).toEqual([['active', at(10)]]);
  });

  it('restarts the "for" clock when the condition breaks', () => {
    expect(new Drive([rule({ for: '2s' })]).speeds([130, 130, 100, 130, 130]).summary).toEqual([]);
  });

  it('does not raise again within the cooldown after an alert', () => {
    const drive = new Drive([rule({ cooldown: '5s' })]).speeds([130, 100, 130, 100, 100, 100, 130]);
    expect(drive.summary.filter(([status]) => status === 'active')).toEqual([
      ['active', at(0)],
      ['active', at(6)],
    ]);
  });

  it('keeps one alert through a flapping signal until it has stopped holding for clearAfter', () => {
    const drive = new Drive([rule({ clearAfter: '3s' })]).speeds([130, 100, 130, 100, 100, 100, 100]);
    expect(drive.summary).toEqual([
      ['active', at(0)],
      ['cleared', at(6)],
    ]);
  });

  it('neither breaks nor extends a hold on a message that carries none of the rule’s fields', () => {
    const drive = new Drive([rule({ for: '3s' })])
      .message(0, { speedKph: 130 })
      .message(1, { dtcs: ['P0217'] })
      .message(2, { speedKph: 130 })
      .message(3, { speedKph: 130 });
    expect(drive.summary).toEqual([['active', at(3)]]);
    expect(drive.transitions[0]!.startedAt).toBe(at(0));
  });

  it('fills the message from facts, members of facts and derived facts', () => {
    const drive = new Drive([
      rule({
        message: '{{vehicleId}} at {{position.lat}},{{position.lon}} braking {{rate:speedKph}} {{missing.x}}',
      }),
    ]).message(0, { speedKph: 130, position: { lat: 52.5, lon: 13.4 }, 'rate:speedKph': -12.3456 });
    expect(drive.transitions[0]!.message).toBe('truck-1 at 52.5,13.4 braking -12.35 ');
  });

  it('forgets a rule that has nothing pending, so an idle vehicle holds no rule state', () => {
    const drive = new Drive([rule({ cooldown: '2s' })]).speeds([130, 100, 100, 100]);
    expect(drive.vehicle.states).toBeUndefined();
  });

  it('keeps each rule’s state apart when several rules of a vehicle hold at once, whichever began first', () => {
    const above = (fact: string, value: number) => ({ all: [{ fact, operator: 'greaterThan', value }] });
    const drive = new Drive([
      rule({ id: 'fast', conditions: above('speedKph', 100), for: '3s' }),
      rule({ id: 'faster', conditions: above('speedKph', 120), for: '2s' }),
      rule({ id: 'revving', conditions: above('rpm', 3000), for: '2s' }),
    ]);
    // revving begins first, then fast, then faster between them; faster breaks while the other two hold.
    const readings: Array<[number, number]> = [
      [90, 3500],
      [110, 3500],
      [130, 3500],
      [110, 2000],
      [110, 2000],
      [130, 2000],
      [130, 2000],
      [130, 2000],
    ];
    readings.forEach(([speedKph, rpm], second) => drive.message(second, { speedKph, rpm }));
    expect(drive.transitions.map((alert) => [alert.ruleId, alert.status, alert.startedAt])).toEqual([
      ['revving', 'active', at(0)],
      ['revving', 'cleared', at(0)],
      ['fast', 'active', at(1)],
      ['faster', 'active', at(5)],
    ]);
  });

  it('ignores vehicles outside the rule scope', () => {
    expect(new Drive([rule({ scope: { fleets: ['other'] } })]).speeds([130, 130]).summary).toEqual([]);
    expect(new Drive([rule({ scope: { vehicles: ['truck-1'] } })]).speeds([130]).summary).toEqual([
      ['active', at(0)],
    ]);
  });

  it('applies a tag-scoped rule only to vehicles carrying one of its tags, within its fleets', () => {
    const reefers = rule({ scope: { fleets: ['acme'], tags: ['reefer', 'cold-chain'] } });
    const summary = (fleetId: string, tags: string[]) =>
      new Drive([reefers], fleetId, 'truck-1', tags).speeds([130]).summary;
    expect(summary('acme', ['cold-chain', 'eu'])).toEqual([['active', at(0)]]);
    expect(summary('acme', ['eu'])).toEqual([]);
    expect(summary('acme', [])).toEqual([]);
    expect(summary('other', ['reefer'])).toEqual([]);
  });

  it('clears the active alert of a vehicle that loses the tag in scope, and judges it afresh once tagged again', () => {
    const drive = new Drive([rule({ scope: { tags: ['reefer'] } })], 'acme', 'truck-1', ['reefer'])
      .speeds([130, 131])
      .retag(['eu']);
    drive.message(2, { speedKph: 132 }).retag(['reefer', 'eu']).message(3, { speedKph: 133 });
    expect(drive.summary).toEqual([
      ['active', at(0)],
      ['cleared', at(1)],
      ['active', at(3)],
    ]);
    expect(drive.transitions[2]!.alertId).not.toBe(drive.transitions[0]!.alertId);
  });

  it('keeps the state of the rules still in scope when tags change', () => {
    const drive = new Drive([rule({ for: '3s' })], 'acme', 'truck-1', ['reefer'])
      .speeds([130, 130])
      .retag([]);
    drive.message(2, { speedKph: 130 }).message(3, { speedKph: 130 });
    expect(drive.summary).toEqual([['active', at(3)]]);
  });

  it('names on both transitions the webhook targets the rule’s actions send them to, once each', () => {
    const target = 'wht_0123456789abcdef';
    const actions = [target, target, 'wht_fedcba9876543210'].map((id) => ({ type: 'webhook', target: id }));
    const drive = new Drive([rule({ actions })]).speeds([130, 90]);
    expect(drive.transitions.map((alert) => alert.webhookTargetIds)).toEqual([
      [target, 'wht_fedcba9876543210'],
      [target, 'wht_fedcba9876543210'],
    ]);
    expect(new Drive([rule()]).speeds([130]).transitions[0]!.webhookTargetIds).toBeUndefined();
  });

  it('keeps the log position of the evidence on the alert', () => {
    const [raised] = new Drive([rule({ for: '1s' })]).speeds([130, 130]).transitions;
    expect(raised!.lineage.map((entry) => entry.offset)).toEqual(['0', '1']);
  });
});

describe('AlertTracker: count within', () => {
  const harshBraking = rule({
    id: 'repeated-braking',
    conditions: { all: [{ fact: 'braking', operator: 'equal', value: true }] },
    count: { atLeast: 3, within: '10s' },
    message: 'braked hard 3 times',
  });

  it('raises when the condition has begun to hold the given number of times within the span', () => {
    const drive = new Drive([harshBraking]);
    [0, 2, 4, 6].forEach((second) =>
      drive.message(second, { braking: true }).message(second + 1, { braking: false }),
    );
    expect(drive.summary).toEqual([
      ['active', at(4)],
      ['cleared', at(5)],
    ]);
    expect(drive.transitions[0]!.startedAt).toBe(at(0));
  });

  it('counts onsets, not messages: a long hold is one', () => {
    const drive = new Drive([harshBraking]);
    [0, 1, 2, 3, 4].forEach((second) => drive.message(second, { braking: true }));
    expect(drive.summary).toEqual([]);
  });

  it('does not raise when the onsets are spread wider than the span', () => {
    const drive = new Drive([harshBraking]);
    [0, 6, 12, 18].forEach((second) =>
      drive.message(second, { braking: true }).message(second + 1, { braking: false }),
    );
    expect(drive.summary).toEqual([]);
  });
});

describe('AlertTracker: A then B within', () => {
  const stallAfterOverheat = rule({
    id: 'stall-after-overheat',
    conditions: { all: [{ fact: 'coolantTempC', operator: 'greaterThan', value: 110 }] },
    then: { conditions: { all: [{ fact: 'rpm', operator: 'equal', value: 0 }] }, within: '30s' },
    message: 'engine stalled after overheating',
  });

  it('raises when B begins to hold within the span after A held, starting at A', () => {
    const drive = new Drive([stallAfterOverheat])
      .message(0, { coolantTempC: 115, rpm: 900 })
      .message(20, { coolantTempC: 100, rpm: 0 })
      .message(21, { coolantTempC: 100, rpm: 800 });
    expect(drive.summary).toEqual([
      ['active', at(20)],
      ['cleared', at(21)],
    ]);
    expect(drive.transitions[0]!.startedAt).toBe(at(0));
    expect(drive.transitions[0]!.lineage.map((entry) => entry.offset)).toEqual(['0', '20']);
  });

  it('does not raise when B comes later than the span, or before A, or in the same message', () => {
    expect(
      new Drive([stallAfterOverheat])
        .message(0, { coolantTempC: 115, rpm: 900 })
        .message(31, { coolantTempC: 100, rpm: 0 }).summary,
    ).toEqual([]);
    expect(
      new Drive([stallAfterOverheat])
        .message(0, { coolantTempC: 90, rpm: 0 })
        .message(1, { coolantTempC: 115, rpm: 0 }).summary,
    ).toEqual([]);
    expect(new Drive([stallAfterOverheat]).message(0, { coolantTempC: 115, rpm: 0 }).summary).toEqual([]);
  });
});

describe('AlertTracker: absence', () => {
  const offline = rule({
    id: 'offline',
    conditions: undefined,
    absence: '10m',
    message: '{{vehicleId}} silent',
  });

  it('raises once the clock passes the last message plus the span, and clears on the next message', () => {
    const drive = new Drive([offline]).message(0, { speedKph: 50 });
    expect(drive.absenceDeadline).toBe(t0 + 600_000);
    drive.clock(599).clock(600).clock(700);
    drive.message(900, { speedKph: 0 });
    expect(drive.summary).toEqual([
      ['active', at(600)],
      ['cleared', at(900)],
    ]);
    expect(drive.transitions[0]!.startedAt).toBe(at(0));
    expect(drive.transitions[0]!.alertId).toBe(
      alertId({ id: 'offline', version: 2 }, 'acme', 'truck-1', at(0)),
    );
    expect(drive.transitions[0]!.lineage).toEqual([{ topic: 'fleet.telemetry', partition: 0, offset: '0' }]);
    expect(drive.absenceDeadline).toBe(t0 + 1_500_000);
  });

  it('with a cooldown longer than the span, raises the next silence when the cooldown ends', () => {
    const drive = new Drive([{ ...offline, cooldown: '30m' }]).message(0, {}).clock(600);
    drive.message(700, {});
    expect(drive.absenceDeadline).toBe(t0 + 600_000 + 1_800_000);
    drive.clock(1_300).clock(2_399).clock(2_400);
    expect(drive.summary).toEqual([
      ['active', at(600)],
      ['cleared', at(700)],
      ['active', at(2_400)],
    ]);
    expect(drive.transitions[2]!.startedAt).toBe(at(700));
  });

  it('has no deadline before the first message or while the alert is active', () => {
    const drive = new Drive([offline]);
    expect(drive.absenceDeadline).toBeUndefined();
    drive.message(0, {}).clock(600);
    expect(drive.absenceDeadline).toBeUndefined();
  });
});

describe('alertId', () => {
  it('is the same for the same rule version, fleet, vehicle and start, and differs otherwise', () => {
    const id = alertId({ id: 'overspeed', version: 1 }, 'acme', 'truck-1', at(0));
    expect(alertId({ id: 'overspeed', version: 1 }, 'acme', 'truck-1', at(0))).toBe(id);
    expect(alertId({ id: 'overspeed', version: 2 }, 'acme', 'truck-1', at(0))).not.toBe(id);
    expect(alertId({ id: 'overspeed', version: 1 }, 'other', 'truck-1', at(0))).not.toBe(id);
    expect(alertId({ id: 'overspeed', version: 1 }, 'acme', 'truck-2', at(0))).not.toBe(id);
    expect(alertId({ id: 'overspeed', version: 1 }, 'acme', 'truck-1', at(1))).not.toBe(id);
  });
});
