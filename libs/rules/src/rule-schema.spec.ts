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

  it('names the JSON path of an action that is not a webhook target id, or not a webhook', () => {
    const actions = [
      { type: 'webhook', target: 'wht_0123456789abcdef' },
      { type: 'webhook', target: 'ops-pager' },
      { type: 'email', target: 'wht_0123456789abcdef' },
    ];
    expect(problemsOf({ ...valid, actions }).map((problem) => problem.path)).toEqual([
      '/actions/1/target',
      '/actions/2/type',
    ]);
    expect(validateRule({ ...valid, actions: actions.slice(0, 1) }).valid).toBe(true);
  });

  it('names the JSON path of a scope tag that is not a tag', () => {
    expect(problemsOf({ ...valid, scope: { tags: ['reefer', 'Cold Chain'] } })).toEqual([
      { path: '/scope/tags/1', message: expect.stringContaining('lower-case') },
    ]);
    expect(problemsOf({ ...valid, scope: { tags: [] } })[0]!.path).toBe('/scope/tags');
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

  it('accepts window, change and rate facts with their params, and names the param at fault', () => {
    const leaf = (condition: object) => ({ ...valid, conditions: { all: [condition] } });
    const window = { fact: 'window', params: { fn: 'avg', field: 'speedKph', size: '5m' } };
    expect(validateRule(leaf({ ...window, operator: 'greaterThan', value: 90 })).valid).toBe(true);
    expect(
      validateRule(leaf({ fact: 'rate', params: { field: 'speedKph' }, operator: 'lessThan', value: -12 }))
        .valid,
    ).toBe(true);
    expect(
      problemsOf(
        leaf({
          ...window,
          params: { fn: 'median', field: 'speedKph', size: '5m' },
          operator: 'equal',
          value: 1,
        }),
      ),
    ).toEqual([{ path: '/conditions/all/0/params/fn', message: expect.stringContaining('one of avg') }]);
    expect(
      problemsOf(
        leaf({ ...window, params: { fn: 'avg', field: '$..x', size: '2d' }, operator: 'equal', value: 1 }),
      ).map((problem) => problem.path),
    ).toEqual(['/conditions/all/0/params/field', '/conditions/all/0/params/size']);
    expect(problemsOf(leaf({ fact: 'window', operator: 'equal', value: 1 }))[0]!.path).toBe(
      '/conditions/all/0/params',
    );
    expect(
      problemsOf(leaf({ fact: 'speedKph', params: { field: 'x' }, operator: 'equal', value: 1 }))[0],
    ).toEqual({
      path: '/conditions/all/0/params',
      message: 'only the facts window, change and rate take params',
    });
  });

  it('accepts each temporal operator alone and refuses two on one rule', () => {
    expect(validateRule({ ...valid, count: { atLeast: 3, within: '10m' } }).valid).toBe(true);
    expect(validateRule({ ...valid, then: { conditions: valid.conditions, within: '30s' } }).valid).toBe(
      true,
    );
    expect(validateRule({ ...valid, clearAfter: '1m', for: '10s' }).valid).toBe(true);
    expect(problemsOf({ ...valid, for: '10s', count: { atLeast: 3, within: '10m' } })).toEqual([
      { path: '/count', message: 'a rule uses one of for, count, then and absence; this one also has "for"' },
    ]);
    expect(problemsOf({ ...valid, count: { atLeast: 1, within: '10m' } })[0]!.path).toBe('/count/atLeast');
  });

  it('takes an absence rule without conditions, and requires conditions on every other rule', () => {
    const withoutConditions: Partial<typeof valid> = { ...valid };
    delete withoutConditions.conditions;
    expect(validateRule({ ...withoutConditions, absence: '10m' }).valid).toBe(true);
    expect(problemsOf(withoutConditions)).toEqual([
      { path: '/conditions', message: 'is required (unless the rule is an absence rule)' },
    ]);
    expect(problemsOf({ ...valid, absence: '10m' })).toEqual([
      { path: '/conditions', message: 'an absence rule has none' },
    ]);
  });

  it.each(['matches', 'regex', 'like', 'startsWith'])(
    'refuses a pattern operator such as "%s": there is none, so no rule can hold a backtracking regex',
    (operator) => {
      const rule = { ...valid, conditions: { all: [{ fact: 'vehicleId', operator, value: '^(a+)+$' }] } };
      expect(problemsOf(rule)).toEqual([
        { path: '/conditions/all/0/operator', message: expect.stringContaining('one of equal') },
      ]);
    },
  );

  it('refuses a duration of 999999 days in every temporal field', () => {
    const absurd = '999999d';
    expect(problemsOf({ ...valid, for: absurd })).toEqual([{ path: '/for', message: 'must be at most 7d' }]);
    expect(problemsOf({ ...valid, count: { atLeast: 2, within: absurd } })[0]!.path).toBe('/count/within');
    expect(problemsOf({ ...valid, clearAfter: absurd })[0]!.path).toBe('/clearAfter');
  });

  it('refuses more than 100 conditions in one group', () => {
    const leaf = { fact: 'rpm', operator: 'greaterThan', value: 1 };
    expect(problemsOf({ ...valid, conditions: { any: Array.from({ length: 101 }, () => leaf) } })).toEqual([
      { path: '/conditions/any', message: 'must be an array of 1 to 100 conditions' },
    ]);
  });

  it('refuses values that are objects, non-finite or overlong', () => {
    const withValue = (value: unknown) => ({
      ...valid,
      conditions: { all: [{ fact: 'speedKph', operator: 'greaterThan', value }] },
    });
    for (const value of [{ gt: 1 }, Number.POSITIVE_INFINITY, 'x'.repeat(1025), [[1]]]) {
      expect(problemsOf(withValue(value))).toEqual([
        { path: '/conditions/all/0/value', message: expect.any(String) },
      ]);
    }
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
