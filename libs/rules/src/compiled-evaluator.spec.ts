import { compileRules, RuleCompilationError } from './compiled-evaluator';
import { JsonRulesEngineEvaluator, type ConditionSet, type Facts } from './condition-evaluator';

/** Condition sets built directly, not validated: the compiler's own checks are under test too. */
function rule(conditions: unknown, id = 'r'): ConditionSet {
  return { id, conditions } as ConditionSet;
}

/** Whether the rule's conditions hold for the facts, after checking json-rules-engine answers the same. */
async function holds(conditions: unknown, facts: Facts): Promise<boolean> {
  const rules = [rule(conditions)];
  const expected = await new JsonRulesEngineEvaluator(rules).matchingRuleIds(facts);
  const compiled = compileRules(rules);
  expect(compiled.matchSync(facts)).toEqual(expected);
  expect(await compiled.matchingRuleIds(facts)).toEqual(expected);
  return expected.has('r');
}

/**
 * Both evaluators fail: json-rules-engine's run rejects (not always with an Error: EventEmitter2 rejects with a
 * string), the compiled set throws or rejects likewise.
 */
async function expectBothToFail(rules: ConditionSet[], facts: Facts): Promise<void> {
  await expect(new JsonRulesEngineEvaluator(rules).matchingRuleIds(facts)).rejects.toBeDefined();
  const compiled = compileRules(rules);
  expect(() => compiled.matchSync(facts)).toThrow();
  await expect(compiled.matchingRuleIds(facts)).rejects.toThrow();
}

const leaf = (operator: string, value: unknown, path?: string) => ({
  all: [{ fact: 'reading', operator, value, ...(path === undefined ? {} : { path }) }],
});

describe('compileRules: each operator on each type of fact', () => {
  const factsOfType: Record<string, Facts> = {
    number: { reading: 130 },
    'numeric string': { reading: '130' },
    string: { reading: 'fast' },
    boolean: { reading: true },
    null: { reading: null },
    undefined: {},
    array: { reading: [130] },
    object: { reading: { kph: 130 } },
    NaN: { reading: NaN },
    Infinity: { reading: Infinity },
  };
  // For each operator and value, the fact types for which the condition holds (json-rules-engine agrees).
  const table: Array<[operator: string, value: unknown, holdsFor: string[]]> = [
    ['equal', 130, ['number']],
    [
      'notEqual',
      130,
      ['numeric string', 'string', 'boolean', 'null', 'undefined', 'array', 'object', 'NaN', 'Infinity'],
    ],
    // parseFloat must read a number from the fact's string form: [130] reads "130", null and true do not.
    ['greaterThan', 120, ['number', 'numeric string', 'array', 'Infinity']],
    ['greaterThanInclusive', 130, ['number', 'numeric string', 'array', 'Infinity']],
    // null < 200 and true < 200 hold in JavaScript, but the validator has already said no.
    ['lessThan', 200, ['number', 'numeric string', 'array']],
    ['lessThanInclusive', 130, ['number', 'numeric string', 'array']],
    ['in', [130, 'fast', true, null], ['number', 'string', 'boolean', 'null']],
    [
      'notIn',
      [130, 'fast', true, null],
      ['numeric string', 'undefined', 'array', 'object', 'NaN', 'Infinity'],
    ],
    ['contains', 130, ['array']],
    // Not the negation of contains: a fact that is not an array fails both.
    ['doesNotContain', 131, ['array']],
  ];
  describe.each(table)('%s %j', (operator, value, holdsFor) => {
    it.each(Object.keys(factsOfType))('on a fact that is %s', async (type) => {
      expect(await holds(leaf(operator, value), factsOfType[type]!)).toBe(holdsFor.includes(type));
    });
  });
});

describe('compileRules: coercions json-rules-engine makes', () => {
  it.each([
    ['a hex string reads as 0 for the validator but compares as 16', '0x10', 'greaterThan', 5, true],
    [
      'a string with trailing letters passes the validator but compares as NaN',
      '12abc',
      'greaterThan',
      5,
      false,
    ],
    ['leading spaces are fine for both', ' 7', 'greaterThan', 5, true],
    ['two strings compare as text', '5', 'greaterThan', '10', true],
    ['a null value compares as 0', -1, 'lessThan', null, true],
    ['a boolean value compares as 1', '1', 'lessThanInclusive', true, true],
    ['an array value compares as its joined string', 5, 'greaterThan', [3], true],
    ['-Infinity as a string passes the validator', '-Infinity', 'lessThan', 0, true],
  ])('%s', async (_reason, fact, operator, value, expected) => {
    expect(await holds(leaf(operator, value), { reading: fact })).toBe(expected);
  });

  it('"in" a string value searches for the fact as a string', async () => {
    expect(await holds(leaf('in', 'abc'), { reading: 'b' })).toBe(true);
    expect(await holds(leaf('in', 'abc'), { reading: ['b'] })).toBe(true);
    expect(await holds(leaf('in', 'null'), { reading: null })).toBe(true);
    expect(await holds(leaf('in', 'undefined'), {})).toBe(true);
    expect(await holds(leaf('notIn', 'abc'), { reading: 'abcd' })).toBe(true);
  });

  it('"in" and "contains" use strict equality: no NaN, no coercion, arrays never equal', async () => {
    expect(await holds(leaf('in', [1, 2]), { reading: '1' })).toBe(false);
    expect(await holds(leaf('in', [0]), { reading: -0 })).toBe(true);
    expect(await holds(leaf('contains', '1'), { reading: [1] })).toBe(false);
    expect(await holds(leaf('doesNotContain', [1]), { reading: [[1]] })).toBe(true);
    expect(await holds(leaf('equal', [1]), { reading: [1] })).toBe(false);
  });
});

describe('compileRules: paths', () => {
  const position = { position: { gnssSpeedKph: 131, fix: { satellites: 7 }, zero: 0, label: 'abc' } };

  it('reads nested members', async () => {
    expect(await holds(leaf('greaterThan', 120, '$.gnssSpeedKph'), { reading: position.position })).toBe(
      true,
    );
    expect(await holds(leaf('equal', 7, '$.fix.satellites'), { reading: position.position })).toBe(true);
  });

  it('yields undefined past a missing or falsy intermediate value', async () => {
    for (const reading of [{}, { fix: null }, { fix: 0 }, { fix: '' }, { fix: false }]) {
      expect(await holds(leaf('notEqual', 7, '$.fix.satellites'), { reading })).toBe(true);
      expect(await holds(leaf('in', 'undefined', '$.fix.satellites'), { reading })).toBe(true);
    }
  });

  it('reads own properties of arrays and of nested strings, such as length', async () => {
    expect(await holds(leaf('equal', 2, '$.length'), { reading: [5, 6] })).toBe(true);
    expect(await holds(leaf('equal', 3, '$.label.length'), { reading: position.position })).toBe(true);
  });

  it('uses a primitive fact as it is, path or not', async () => {
    expect(await holds(leaf('greaterThan', 120, '$.gnssSpeedKph'), { reading: 130 })).toBe(true);
    expect(await holds(leaf('equal', 'abc', '$.length'), { reading: 'abc' })).toBe(true);
    expect(await holds(leaf('equal', null, '$.a'), { reading: null })).toBe(true);
  });

  it('never follows the prototype chain', async () => {
    expect(await holds(leaf('in', 'undefined', '$.constructor'), { reading: {} })).toBe(true);
    expect(await holds(leaf('in', 'undefined', '$.toString'), { reading: [] })).toBe(true);
    expect(
      await holds(leaf('equal', 5, '$.__proto__'), { reading: JSON.parse('{"__proto__": 5}') as Facts }),
    ).toBe(true);
  });
});

describe('compileRules: groups', () => {
  const fast = { fact: 'speedKph', operator: 'greaterThan', value: 120 };
  const revving = { fact: 'rpm', operator: 'greaterThan', value: 4000 };

  it('combines all, any and not at any depth', async () => {
    const conditions = { any: [{ all: [fast, { not: revving }] }, { not: { any: [fast, revving] } }] };
    expect(await holds(conditions, { speedKph: 130, rpm: 3000 })).toBe(true);
    expect(await holds(conditions, { speedKph: 130, rpm: 5000 })).toBe(false);
    expect(await holds(conditions, { speedKph: 100, rpm: 3000 })).toBe(true);
    expect(await holds({ not: { not: { all: [fast] } } }, { speedKph: 130 })).toBe(true);
  });

  it('holds an empty all and an empty any alike, as json-rules-engine does', async () => {
    expect(await holds({ all: [] }, {})).toBe(true);
    expect(await holds({ any: [] }, {})).toBe(true);
    expect(await holds({ not: { any: [] } }, {})).toBe(false);
  });

  it('reports every rule that holds, by id and by index', () => {
    const rules = [
      rule({ all: [fast] }, 'fast'),
      rule({ all: [revving] }, 'revving'),
      rule({ any: [fast] }, 'also'),
    ];
    const compiled = compileRules(rules);
    expect(compiled.matchSync({ speedKph: 130, rpm: 100 })).toEqual(new Set(['fast', 'also']));
    const matched = new Uint32Array(rules.length);
    expect(compiled.matchInto({ speedKph: 130, rpm: 100 }, matched)).toBe(2);
    expect([...matched.subarray(0, 2)].map((index) => compiled.ruleIds[index])).toEqual(['fast', 'also']);
    expect(compileRules([]).matchSync({ speedKph: 130 })).toEqual(new Set());
  });

  it('splits large rule sets over several generated functions without losing a rule', () => {
    const thresholds = Array.from({ length: 1200 }, (_, index) => index);
    const rules = thresholds.map((threshold) =>
      rule({ all: [{ fact: 'speedKph', operator: 'greaterThan', value: threshold }] }, `above-${threshold}`),
    );
    const compiled = compileRules(rules);
    expect(compiled.source).toContain('function rules2(');
    expect(compiled.matchSync({ speedKph: 1000 }).size).toBe(1000);
    expect(compiled.matchSync({ speedKph: 1000 }).has('above-999')).toBe(true);
  });
});

describe('compileRules: fact lookup', () => {
  it('sees an Object.prototype name only as an own fact', async () => {
    for (const fact of ['toString', 'constructor', 'valueOf', 'hasOwnProperty']) {
      expect(await holds({ all: [{ fact, operator: 'in', value: 'undefined' }] }, {})).toBe(true);
      expect(await holds({ all: [{ fact, operator: 'equal', value: 3 }] }, { [fact]: 3 })).toBe(true);
    }
  });

  it('sees inherited enumerable facts, as for...in does', async () => {
    const inherited = Object.create({ speedKph: 130 }) as Facts;
    expect(await holds({ all: [{ fact: 'speedKph', operator: 'equal', value: 130 }] }, inherited)).toBe(true);
  });
});

describe('compileRules: runs json-rules-engine rejects', () => {
  it('fails every run for "in" or "notIn" with a number, boolean or null value, even of a rule that holds', async () => {
    for (const value of [5, true, null]) {
      const rules = [
        rule({ all: [{ fact: 'speedKph', operator: 'equal', value: 1 }] }, 'holds'),
        rule({ any: [{ fact: 'speedKph', operator: 'notIn', value }] }, 'broken'),
      ];
      await expectBothToFail(rules, { speedKph: 1 });
    }
  });

  it('fails where a converted object cannot become a string, even under a decided "any"', async () => {
    const conditions = {
      any: [
        { fact: 'speedKph', operator: 'equal', value: 1 },
        { fact: 'engine', operator: 'lessThan', value: 5 },
      ],
    };
    await expectBothToFail([rule(conditions)], { speedKph: 1, engine: { toString: 1 } });
    await expectBothToFail([rule(conditions)], { speedKph: 1, engine: [{ toString: 1 }] });
    expect(await holds(conditions, { speedKph: 1, engine: { kph: 1 } })).toBe(true);
  });

  it('fails for a fact named ""', async () => {
    await expectBothToFail([rule({ all: [{ fact: 'speedKph', operator: 'equal', value: 1 }] })], { '': 0 });
  });

  it('fails when a rule called "error" holds, and only then', async () => {
    const rules = [rule({ all: [{ fact: 'speedKph', operator: 'greaterThan', value: 120 }] }, 'error')];
    await expectBothToFail(rules, { speedKph: 130 });
    expect(compileRules(rules).matchSync({ speedKph: 100 })).toEqual(new Set());
  });
});

describe('compileRules: hostile input', () => {
  const canary = 'compiledRuleCanary';
  afterEach(() => {
    expect(canary in globalThis).toBe(false);
  });

  it.each([
    '"]);process.exit(1);//',
    'speed"Kph',
    'speed\\Kph',
    'speed Kph',
    'speed\u2028Kph',
    '',
    '"+(globalThis.compiledRuleCanary=1)+"',
  ])('refuses the fact name %j', (fact) => {
    expect(() => compileRules([rule({ all: [{ fact, operator: 'equal', value: 1 }] })])).toThrow(
      RuleCompilationError,
    );
  });

  it.each([
    '$.a"]);process.exit(1);//',
    '$..a',
    '$[?(@.a)]',
    '$.a[0]',
    '$.a\u2029',
    '$',
    'a.b',
    '$.',
    '$.a..b',
  ])('refuses the path %j', (path) => {
    expect(() =>
      compileRules([rule({ all: [{ fact: 'position', path, operator: 'equal', value: 1 }] })]),
    ).toThrow(RuleCompilationError);
  });

  it.each([
    ['a quote and a call', '"]);process.exit(1);//'],
    ['a statement', `"; globalThis.${canary} = 1; "`],
    ['backslashes', 'C:\\temp\\"x\\'],
    ['line and paragraph separators', 'a\u2028b\u2029c'],
    ['a template literal', '${globalThis.' + canary + ' = 1}'],
    ['a script tag and a comment', '</script><!-- */ //'],
    ['a lone surrogate', '\ud800'],
  ])('evaluates a value with %s as plain data', async (_what, text) => {
    for (const operator of ['equal', 'in', 'contains']) {
      const value = operator === 'in' ? [text] : text;
      const fact = operator === 'contains' ? [text] : text;
      expect(await holds(leaf(operator, value), { reading: fact })).toBe(true);
      expect(await holds(leaf(operator, value), { reading: `${text}!` })).toBe(false);
    }
    expect(await holds(leaf('in', text), { reading: text })).toBe(true);
  });

  it('evaluates facts and path segments named after prototype members as plain data', async () => {
    const facts = JSON.parse('{"__proto__": {"constructor": {"__proto__": 1}}}') as Facts;
    const conditions = {
      all: [{ fact: '__proto__', path: '$.constructor.__proto__', operator: 'equal', value: 1 }],
    };
    expect(await holds(conditions, facts)).toBe(true);
    expect(await holds(conditions, {})).toBe(false);
  });

  it('never writes rule ids into the generated code', () => {
    const id = '"); globalThis.compiledRuleCanary = 1; ("';
    const compiled = compileRules([rule({ all: [{ fact: 'speedKph', operator: 'equal', value: 1 }] }, id)]);
    expect(compiled.source).not.toContain('canary');
    expect(compiled.matchSync({ speedKph: 1 })).toEqual(new Set([id]));
  });

  it.each([
    ['an operator from the prototype', { fact: 'a', operator: 'constructor', value: 1 }, '/operator'],
    ['an unknown operator', { fact: 'a', operator: 'matches', value: 1 }, '/operator'],
    ['a NaN value', { fact: 'a', operator: 'equal', value: NaN }, '/value'],
    ['an Infinity value', { fact: 'a', operator: 'equal', value: [Infinity] }, '/value'],
    ['a fact reference as value', { fact: 'a', operator: 'equal', value: { fact: 'b' } }, '/value'],
    ['a missing value', { fact: 'a', operator: 'equal' }, '/value'],
    ['a condition priority', { fact: 'a', operator: 'equal', value: 1, priority: 2 }, '/priority'],
    ['fact params', { fact: 'a', operator: 'equal', value: 1, params: {} }, '/params'],
  ])('refuses %s and says where', (_what, condition, key) => {
    const compiling = () => compileRules([rule({ any: [{ all: [condition] }] }, 'odd')]);
    expect(compiling).toThrow(RuleCompilationError);
    expect(compiling).toThrow(`rule "odd" /conditions/any/0/all/0${key}`);
  });

  it('refuses shapes json-rules-engine would refuse or read differently', () => {
    const shapes = [
      { fact: 'a', operator: 'equal', value: 1 },
      { all: {} },
      { all: [], any: [] },
      { not: [] },
      { all: [null] },
      { condition: 'shared' },
    ];
    for (const conditions of shapes) {
      expect(() => compileRules([rule(conditions)])).toThrow(RuleCompilationError);
    }
  });
});

describe('compileRules: rules left to json-rules-engine', () => {
  const rules = [
    rule({ all: [{ fact: 'speedKph', operator: 'greaterThan', value: 120 }] }, 'compiled'),
    rule({ all: [{ fact: 'coolantTempC', operator: 'greaterThan', value: 110 }] }, 'interpreted'),
  ];

  it('evaluates them with json-rules-engine alongside the compiled ones', async () => {
    const compiled = compileRules(rules, { interpretedRuleIds: ['interpreted'] });
    expect(compiled.ruleIds).toEqual(['compiled']);
    expect(compiled.interpretedRuleIds).toEqual(['interpreted']);
    expect(compiled.source).not.toContain('coolantTempC');
    expect(await compiled.matchingRuleIds({ speedKph: 130, coolantTempC: 115 })).toEqual(
      new Set(['compiled', 'interpreted']),
    );
    expect(await compiled.matchingRuleIds({ speedKph: 100, coolantTempC: 115 })).toEqual(
      new Set(['interpreted']),
    );
  });

  it('refuses to answer synchronously without them', () => {
    const compiled = compileRules(rules, { interpretedRuleIds: ['interpreted'] });
    expect(() => compiled.matchSync({ speedKph: 130 })).toThrow(/interpreted|json-rules-engine/);
    expect(() => compiled.matchInto({ speedKph: 130 }, new Uint32Array(2))).toThrow(/matchingRuleIds/);
  });

  it('passes their failures on', async () => {
    const broken = rule({ all: [{ fact: 'speedKph', operator: 'in', value: 5 }] }, 'broken');
    const compiled = compileRules([...rules, broken], { interpretedRuleIds: ['broken'] });
    await expect(compiled.matchingRuleIds({ speedKph: 1 })).rejects.toThrow('indexOf');
  });
});
