import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import { ruleJsonSchema } from './rule-json-schema';

const root = join(__dirname, '../../..');
const published = JSON.parse(readFileSync(join(root, 'docs/rule.v1.schema.json'), 'utf8')) as object;
const validate = new Ajv2020({ allErrors: true, allowUnionTypes: true }).compile(published);

const valid = {
  id: 'overspeed',
  version: 1,
  name: 'Overspeed',
  severity: 'warning',
  conditions: { all: [{ fact: 'speedKph', operator: 'greaterThan', value: 120 }] },
  message: 'too fast',
};

describe('the published rule JSON Schema', () => {
  it('is what the rule model generates (run `npm run rules:schema` after changing the model)', () => {
    expect(published).toEqual(ruleJsonSchema());
  });

  it('accepts every rule shipped in rules/', () => {
    const directory = join(root, 'rules');
    for (const name of readdirSync(directory).filter((file) => file.endsWith('.json'))) {
      const rule: unknown = JSON.parse(readFileSync(join(directory, name), 'utf8'));
      expect({ name, valid: validate(rule), errors: validate.errors ?? null }).toEqual({
        name,
        valid: true,
        errors: null,
      });
    }
  });

  it('accepts window facts with params and refuses them without, and unknown operators and keys', () => {
    const leaf = (condition: object) => ({ ...valid, conditions: { all: [condition] } });
    const window = {
      fact: 'window',
      params: { fn: 'max', field: 'speedKph', size: '5m' },
      operator: 'equal',
      value: 0,
    };
    expect(validate(leaf(window))).toBe(true);
    expect(validate(leaf({ fact: 'window', operator: 'equal', value: 0 }))).toBe(false);
    expect(validate(leaf({ ...window, params: { fn: 'median', field: 'speedKph', size: '5m' } }))).toBe(
      false,
    );
    expect(validate(leaf({ fact: 'speedKph', operator: 'matches', value: 1 }))).toBe(false);
    expect(validate({ ...valid, severty: 'critical' })).toBe(false);
  });
});
