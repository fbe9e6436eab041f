import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parseRuleSet, type Rule } from '@fleetlog/rules';

/** Reads every rules/*.json; one broken file stops start-up with its name and the JSON path of the problem. */
export async function loadRuleDirectory(directory: string): Promise<Rule[]> {
  const names = (await readdir(directory)).filter((name) => name.endsWith('.json')).sort();
  const documents = await Promise.all(
    names.map(async (name) => ({
      source: join(directory, name),
      text: await readFile(join(directory, name), 'utf8'),
    })),
  );
  return parseRuleSet(documents);
}
