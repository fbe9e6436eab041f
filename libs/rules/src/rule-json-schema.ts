import { z } from 'zod';
import { windowFunctions } from '@fleetlog/windows';
import { parameterizedFactNames } from './fact-catalog';
import { builtInOperators, ruleSchema } from './rule-schema';

const literal = { type: ['string', 'number', 'boolean', 'null'] };
const duration = { type: 'string', pattern: '^(\\d{1,9})(ms|s|m|h|d)$' };

/**
 * The condition tree in JSON Schema. Editors and CI use it for completion and early errors; `validateRule` stays
 * the authority (it also checks depth, list shapes per operator, and reports every problem by JSON path).
 */
const conditionDefinitions = {
  condition: {
    oneOf: [
      { $ref: '#/$defs/all' },
      { $ref: '#/$defs/any' },
      { $ref: '#/$defs/not' },
      { $ref: '#/$defs/fieldFact' },
      { $ref: '#/$defs/parameterizedFact' },
    ],
  },
  all: {
    type: 'object',
    properties: { all: { type: 'array', minItems: 1, maxItems: 100, items: { $ref: '#/$defs/condition' } } },
    required: ['all'],
    additionalProperties: false,
  },
  any: {
    type: 'object',
    properties: { any: { type: 'array', minItems: 1, maxItems: 100, items: { $ref: '#/$defs/condition' } } },
    required: ['any'],
    additionalProperties: false,
  },
  not: {
    type: 'object',
    properties: { not: { $ref: '#/$defs/condition' } },
    required: ['not'],
    additionalProperties: false,
  },
  fieldFact: {
    description: 'A telemetry field or secondsSinceLastMessage; path reads into an object field ($.lat).',
    type: 'object',
    properties: {
      fact: {
        type: 'string',
        pattern: '^[A-Za-z][A-Za-z0-9_]{0,63}$',
        not: { enum: [...parameterizedFactNames] },
      },
      operator: { enum: [...builtInOperators] },
      value: { oneOf: [literal, { type: 'array', maxItems: 1000, items: literal }] },
      path: { type: 'string', pattern: '^\\$(\\.[A-Za-z_][A-Za-z0-9_]{0,63}){1,8}$' },
    },
    required: ['fact', 'operator', 'value'],
    additionalProperties: false,
  },
  parameterizedFact: {
    description:
      'window: a function over the vehicle’s last `size` of messages; change/rate: against the previous message.',
    type: 'object',
    properties: {
      fact: { enum: [...parameterizedFactNames] },
      params: {
        type: 'object',
        properties: {
          fn: { enum: [...windowFunctions] },
          field: { type: 'string', pattern: '^[A-Za-z][A-Za-z0-9_]{0,63}$' },
          size: duration,
        },
        required: ['field'],
        additionalProperties: false,
      },
      operator: { enum: [...builtInOperators] },
      value: { oneOf: [literal, { type: 'array', maxItems: 1000, items: literal }] },
    },
    required: ['fact', 'params', 'operator', 'value'],
    additionalProperties: false,
  },
};

/** The published JSON Schema of a rule document (docs/rule.v1.schema.json), derived from `ruleSchema`. */
export function ruleJsonSchema(): Record<string, unknown> {
  const generated = z.toJSONSchema(ruleSchema, {
    unrepresentable: 'any',
    io: 'input',
    override: ({ zodSchema, jsonSchema }) => {
      // `conditions` is checked by hand in ruleSchema; its JSON Schema is written out above.
      if (zodSchema._zod.def.type === 'custom') {
        for (const key of Object.keys(jsonSchema)) delete jsonSchema[key];
        jsonSchema.$ref = '#/$defs/condition';
      }
    },
  });
  return {
    ...generated,
    $id: 'https://fleetlog.dev/schemas/rule.v1.schema.json',
    title: 'Fleetlog rule',
    description:
      'A fleet operator’s rule: a json-rules-engine condition tree in an envelope with scope, severity and one temporal operator (for, count, then or absence).',
    $defs: conditionDefinitions,
  };
}
