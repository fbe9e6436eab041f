import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseRuleSet, InvalidRuleError } from './rule-files';
import { validateRule } from './rule-schema';

const valid = {
  id: 'overspeed',
  version: 1,
  name: 'Overspeed',
  severity: 'warning',
  conditions: { all: [{ fact: 'speedKph', operator: 'greaterThan', value: 120 }] },
  message: 'too fast',
};

function problemsOf(document: unknown) {
  const validation = validateRule(document);
  if (validation.valid) throw new Error('expected problems');
  return validation.problems;
}

describe('validateRule', () => {
  it('accepts a well-formed rule and enables it by default', () => {
    expect(validateRule(valid)).toMatchObject({ valid: true, rule: { enabled: true } });
  });

  it('names the JSON path of an unknown operator deep in the tree', () => {
    const rule = {
      ...valid,
      conditions: {
        all: [
          {
            any: [
              { fact: 'rpm', operator: 'greaterThan', value: 1 },
              { fact: 'rpm', operator: 'matches', value: 1 },
            ],
          },
        ],
      },
    };
    expect(problemsOf(rule)).toEqual([
      { path: '/conditions/all/0/any/1/operator', message: expect.stringContaining('one of equal') },
    ]);
  });

  it('refuses JSONPath expressions beyond plain member access', () => {
    const rule = {
      ...valid,
      conditions: { all: [{ fact: 'position', path: '$..lat', operator: 'equal', value: 1 }] },
    };
    expect(problemsOf(rule)).toEqual([{ path: '/conditions/all/0/path', message: expect.any(String) }]);
  });

  it('refuses durations it cannot read or that are absurdly long', () => {
    expect(problemsOf({ ...valid, for: '30 seconds' })[0]!.path).toBe('/for');
    expect(problemsOf({ ...valid, cooldown: '400d' })[0]!.path).toBe('/cooldown');
  });

  it('refuses condition trees nested beyond the limit', () => {
    let conditions: unknown = { fact: 'rpm', operator: 'equal', value: 1 };
    for (let depth = 0; depth < 10; depth++) conditions = { not: conditions };
    expect(problemsOf({ ...valid, conditions })[0]!.message).toMatch(/nest deeper/);
  });

  it('refuses operator and value shapes that json-rules-engine would silently misread or fail every run on', () => {
    const leaf = (operator: string, value: unknown) => ({
      ...valid,
      conditions: { all: [{ fact: 'vehicleId', operator, value }] },
    });
    expect(problemsOf(leaf('in', 'truck-1,truck-2'))).toEqual([
      { path: '/conditions/all/0/value', message: 'must be a list with "in"' },
    ]);
    expect(problemsOf(leaf('notIn', 7))[0]!.path).toBe('/conditions/all/0/value');
    expect(problemsOf(leaf('contains', ['P0301']))[0]!.message).toBe(
      'must be a single value with "contains"',
    );
    expect(problemsOf({ ...valid, id: 'error' })).toEqual([{ path: '/id', message: 'is reserved' }]);
  });

  it('refuses unknown envelope keys so typos do not pass silently', () => {
    expect(problemsOf({ ...valid, severty: 'critical' })[0]!.message).toMatch(/severty/);
  });
});

describe('parseRuleSet', () => {
  it('accepts every rule shipped in rules/', () => {
    const dir = join(__dirname, '../../../rules');
    const documents = readdirSync(dir)
      .filter((name) => name.endsWith('.json'))
      .map((name) => ({ source: name, text: readFileSync(join(dir, name), 'utf8') }));
    expect(parseRuleSet(documents).map((rule) => rule.id)).toContain('overspeed');
  });

  it('rejects two files that define the same rule id, naming both', () => {
    const text = JSON.stringify(valid);
    expect(() =>
      parseRuleSet([
        { source: 'a.json', text },
        { source: 'b.json', text },
      ]),
    ).toThrow(/b.json: \/id "overspeed" is also defined in a.json/);
  });

  it('rejects a file that is not JSON, naming the file', () => {
    expect(() => parseRuleSet([{ source: 'bad.json', text: '{' }])).toThrow(InvalidRuleError);
  });
});
