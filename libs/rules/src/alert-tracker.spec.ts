import { AlertTracker, alertId, type Observation } from './alert-tracker';
import { JsonRulesEngineEvaluator } from './condition-evaluator';
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

/** Drives tracker and reference evaluator together over a speed trace sampled once a second. */
async function drive(rules: Rule[], speeds: number[], vehicleId = 'truck-1', fleetId = 'acme') {
  const tracker = new AlertTracker(rules);
  const evaluator = new JsonRulesEngineEvaluator(rules);
  const transitions = [];
  for (const [second, speedKph] of speeds.entries()) {
    const observation: Observation = {
      vehicleId,
      fleetId,
      eventTime: t0 + second * 1000,
      facts: { speedKph },
      lineage: { topic: 'fleet.telemetry', partition: 0, offset: String(second) },
    };
    transitions.push(...tracker.observe(observation, await evaluator.matchingRuleIds(observation.facts)));
  }
  return transitions.map((alert) => ({
    status: alert.status,
    at: alert.status === 'active' ? alert.raisedAt : alert.clearedAt,
    alert,
  }));
}

describe('AlertTracker', () => {
  it('raises when the condition holds and clears when it stops holding', async () => {
    const transitions = await drive([rule()], [100, 130, 131, 90]);
    expect(transitions.map(({ status, at }) => [status, at])).toEqual([
      ['active', '2026-11-23T12:00:01.000Z'],
      ['cleared', '2026-11-23T12:00:03.000Z'],
    ]);
    expect(transitions[0]!.alert.message).toBe('truck-1 at 130 km/h');
    expect(transitions[1]!.alert.alertId).toBe(transitions[0]!.alert.alertId);
  });

  it('waits until the condition has held for the whole "for" duration, in event time', async () => {
    const transitions = await drive([rule({ for: '3s' })], [130, 130, 130, 130, 130]);
    expect(transitions.map(({ at }) => at)).toEqual(['2026-11-23T12:00:03.000Z']);
    expect(transitions[0]!.alert.startedAt).toBe('2026-11-23T12:00:00.000Z');
  });

  it('restarts the "for" clock when the condition breaks', async () => {
    expect(await drive([rule({ for: '2s' })], [130, 130, 100, 130, 130])).toEqual([]);
  });

  it('does not raise again within the cooldown after an alert', async () => {
    const transitions = await drive([rule({ cooldown: '5s' })], [130, 100, 130, 100, 100, 100, 130]);
    expect(transitions.filter(({ status }) => status === 'active').map(({ at }) => at)).toEqual([
      '2026-11-23T12:00:00.000Z',
      '2026-11-23T12:00:06.000Z',
    ]);
  });

  it('ignores vehicles outside the rule scope', async () => {
    expect(await drive([rule({ scope: { fleets: ['other'] } })], [130, 130])).toEqual([]);
  });

  it('gives the same alert id for the same rule version, vehicle and start, and a new one otherwise', () => {
    const id = alertId({ id: 'overspeed', version: 1 }, 'truck-1', '2026-11-23T12:00:00.000Z');
    expect(alertId({ id: 'overspeed', version: 1 }, 'truck-1', '2026-11-23T12:00:00.000Z')).toBe(id);
    expect(alertId({ id: 'overspeed', version: 2 }, 'truck-1', '2026-11-23T12:00:00.000Z')).not.toBe(id);
    expect(alertId({ id: 'overspeed', version: 1 }, 'truck-2', '2026-11-23T12:00:00.000Z')).not.toBe(id);
  });

  it('keeps the log position of the evidence on the alert', async () => {
    const [raised] = await drive([rule({ for: '1s' })], [130, 130]);
    expect(raised!.alert.lineage.map((entry) => entry.offset)).toEqual(['0', '1']);
  });
});
