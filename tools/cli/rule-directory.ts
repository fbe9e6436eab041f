import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { checkRuleDocuments, type RuleDocumentProblem } from '../../dist/libs/rules/src/rule-files.js';
import type { Rule } from '../../dist/libs/rules/src/rule-schema.js';

export interface RuleFile {
  source: string;
  rule: Rule;
}

/**
 * Reads every *.json of a directory as a rule, the way the API will take it: a file may leave out `version` (the
 * API assigns versions), and defaults apply. Reports every problem of every file, and ids used twice.
 */
export async function readRuleDirectory(
  directory: string,
): Promise<{ files: RuleFile[]; problems: RuleDocumentProblem[] }> {
  const names = (await readdir(directory)).filter((name) => name.endsWith('.json')).sort();
  const documents = await Promise.all(
    names.map(async (name) => ({
      source: join(directory, name),
      text: await readFile(join(directory, name), 'utf8'),
    })),
  );
  const { rules, problems } = checkRuleDocuments(documents, { defaultVersion: 1 });
  return { files: rules, problems };
}
