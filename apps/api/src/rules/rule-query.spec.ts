import { validateRule, type Rule } from '@fleetlog/rules';
import { matchesQuery, ruleQuerySchema } from './rule-query';

function rule(document: Record<string, unknown>): Rule {
  const validation = validateRule({
    version: 1,
    severity: 'warning',
    message: 'm',
    conditions: { all: [{ fact: 'speedKph', operator: 'greaterThan', value: 120 }] },
    ...document,
  });
  if (!validation.valid) throw new Error(JSON.stringify(validation.problems));
  return validation.rule;
}

const overspeed = rule({ id: 'overspeed', name: 'Sustained overspeed' });
const acmeOnly = rule({
  id: 'acme-geofence',
  name: 'Geofence',
  scope: { fleets: ['acme'] },
  severity: 'critical',
});
const disabled = rule({ id: 'idling', name: 'Idling', enabled: false, severity: 'info' });
const all = [overspeed, acmeOnly, disabled];

const ids = (query: Record<string, string>) =>
  all.filter((candidate) => matchesQuery(candidate, ruleQuerySchema.parse(query))).map(({ id }) => id);

describe('rule list filters', () => {
  it('by enabled and severity', () => {
    expect(ids({ enabled: 'false' })).toEqual(['idling']);
    expect(ids({ enabled: 'true', severity: 'critical' })).toEqual(['acme-geofence']);
  });

  it('by fleet: the rules scoped to it and the unscoped ones', () => {
    expect(ids({ fleet: 'acme' })).toEqual(['overspeed', 'acme-geofence', 'idling']);
    expect(ids({ fleet: 'globex' })).toEqual(['overspeed', 'idling']);
  });

  it('by text in the id or the name, ignoring case', () => {
    expect(ids({ q: 'OVERSPEED' })).toEqual(['overspeed']);
    expect(ids({ q: 'fence' })).toEqual(['acme-geofence']);
  });

  it('rejects an unknown filter and a value outside the enum', () => {
    expect(ruleQuerySchema.safeParse({ owner: 'x' }).success).toBe(false);
    expect(ruleQuerySchema.safeParse({ enabled: 'yes' }).success).toBe(false);
  });
});
