/** Writes docs/rule.v1.schema.json from the rule model (run `npm run rules:schema` after changing rule-schema.ts). */
import { writeFileSync } from 'node:fs';
import { ruleJsonSchema } from '../../dist/libs/rules/src/rule-json-schema.js';

const target = new URL('../../docs/rule.v1.schema.json', import.meta.url);
writeFileSync(target, `${JSON.stringify(ruleJsonSchema(), null, 2)}\n`);
console.log(`wrote ${target.pathname}`);
