import { diffJson, sameJson } from './json-diff';

const rule = {
  id: 'overspeed',
  severity: 'warning',
  conditions: { all: [{ fact: 'speedKph', operator: 'greaterThan', value: 120 }] },
};

describe('diffJson', () => {
  it('names the innermost path that changed, with both values', () => {
    const after = structuredClone(rule);
    after.conditions.all[0]!.value = 100;
    expect(diffJson(rule, after)).toEqual([
      { op: 'change', path: '/conditions/all/0/value', before: 120, after: 100 },
    ]);
  });

  it('lists keys and array elements added and removed', () => {
    const after = {
      ...rule,
      for: '10s',
      conditions: { all: [] as unknown[] },
    };
    expect(diffJson(rule, after)).toEqual([
      { op: 'remove', path: '/conditions/all/0', before: rule.conditions.all[0] },
      { op: 'add', path: '/for', after: '10s' },
    ]);
  });

  it('treats a missing document as created or deleted as a whole', () => {
    expect(diffJson(undefined, rule)).toEqual([{ op: 'add', path: '', after: rule }]);
    expect(diffJson(rule, undefined)).toEqual([{ op: 'remove', path: '', before: rule }]);
  });

  it('escapes / and ~ in keys as JSON Pointer does', () => {
    expect(diffJson({ 'a/b~c': 1 }, { 'a/b~c': 2 })).toEqual([
      { op: 'change', path: '/a~1b~0c', before: 1, after: 2 },
    ]);
  });

  it('ignores key order, and sees a type change as a change', () => {
    expect(sameJson({ a: 1, b: [1, 2] }, { b: [1, 2], a: 1 })).toBe(true);
    expect(diffJson({ a: [1] }, { a: { 0: 1 } })).toEqual([
      { op: 'change', path: '/a', before: [1], after: { 0: 1 } },
    ]);
  });
});
