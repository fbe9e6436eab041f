import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { validateRule, type Rule } from './rule-schema';
import { vocabularyProblems } from './rule-vocabulary';

function rule(conditions: unknown, extra: Record<string, unknown> = {}): Rule {
  const validation = validateRule({
    id: 'r',
    version: 1,
    name: 'R',
    severity: 'warning',
    message: 'm',
    conditions,
    ...extra,
  });
  if (!validation.valid) throw new Error(JSON.stringify(validation.problems));
  return validation.rule;
}

const leaf = (condition: object) => rule({ all: [condition] });

describe('vocabularyProblems', () => {
  it('names an unknown fact at its JSON path, listing the facts there are', () => {
    expect(vocabularyProblems(leaf({ fact: 'spedKph', operator: 'greaterThan', value: 120 }))).toEqual([
      {
        path: '/conditions/all/0/fact',
        message: expect.stringMatching(/^unknown fact "spedKph": .*speedKph/),
      },
    ]);
  });

  it('names a window, change or rate over a field that is not a number', () => {
    const window = { fact: 'window', params: { fn: 'avg', field: 'vehicleId', size: '5m' } };
    expect(vocabularyProblems(leaf({ ...window, operator: 'greaterThan', value: 1 }))).toEqual([
      { path: '/conditions/all/0/params/field', message: expect.stringContaining('speedKph') },
    ]);
    expect(
      vocabularyProblems(leaf({ fact: 'rate', params: { field: 'tyres' }, operator: 'lessThan', value: -1 })),
    ).toHaveLength(1);
  });

  it.each([
    [
      'a comparison with text',
      { fact: 'speedKph', operator: 'greaterThan', value: '120' },
      'must be a number',
    ],
    [
      'a comparison on a text fact with text',
      { fact: 'ts', operator: 'lessThan', value: '2026' },
      'compares',
    ],
    ['a number fact equal to text', { fact: 'rpm', operator: 'equal', value: 'high' }, 'rpm is a number'],
    ['a boolean fact equal to text', { fact: 'ignition', operator: 'equal', value: 'on' }, 'a boolean'],
    ['a comparison with null', { fact: 'speedKph', operator: 'greaterThan', value: null }, 'compares'],
    ['a comparison with a list', { fact: 'rpm', operator: 'lessThan', value: [3000] }, 'compares'],
    ['a list of mixed types', { fact: 'speedKph', operator: 'in', value: [10, '20'] }, 'a number'],
    [
      'a nested number compared with text',
      { fact: 'position', path: '$.lat', operator: 'equal', value: 'north' },
      'position.lat is a number',
    ],
  ])('names the value of %s', (_, condition, message) => {
    expect(vocabularyProblems(leaf(condition))).toEqual([
      { path: '/conditions/all/0/value', message: expect.stringContaining(message) },
    ]);
  });

  it('checks the second step of an A-then-B rule too', () => {
    const then = { conditions: { all: [{ fact: 'brake', operator: 'equal', value: true }] }, within: '10s' };
    const problems = vocabularyProblems(
      rule({ all: [{ fact: 'speedKph', operator: 'greaterThan', value: 1 }] }, { then }),
    );
    expect(problems.map((problem) => problem.path)).toEqual(['/then/conditions/all/0/fact']);
  });

  it('accepts the facts rules use: fields, stamps, derived facts, absence, ext by path, null for absent', () => {
    const conditions = {
      all: [
        { fact: 'channel', operator: 'equal', value: 'dtc' },
        { fact: 'dtcs', operator: 'contains', value: 'P0301' },
        { fact: 'secondsSinceLastMessage', operator: 'greaterThan', value: 60 },
        { fact: 'change', params: { field: 'fuelLevelPct' }, operator: 'lessThan', value: -5 },
        { fact: 'ext', path: '$.tyrePressureKpa', operator: 'lessThan', value: 180 },
        { fact: 'coolantTempC', operator: 'equal', value: null },
        { fact: 'connection', operator: 'in', value: ['offline'] },
      ],
    };
    expect(vocabularyProblems(rule(conditions))).toEqual([]);
  });

  it('accepts every shipped rule and every rule of the carOBD fixtures', () => {
    const root = join(__dirname, '../../..');
    const documents = ['rules', 'test/fixtures/carobd-rules'].flatMap((dir) =>
      readdirSync(join(root, dir))
        .filter((name) => name.endsWith('.json'))
        .map((name) => JSON.parse(readFileSync(join(root, dir, name), 'utf8')) as Record<string, unknown>),
    );
    expect(documents.length).toBeGreaterThan(10);
    for (const document of documents) {
      const validation = validateRule(document);
      if (!validation.valid) throw new Error(JSON.stringify(validation.problems));
      expect({ id: document.id, problems: vocabularyProblems(validation.rule) }).toEqual({
        id: document.id,
        problems: [],
      });
    }
  });
});
