import { parseArgs } from 'node:util';
import { diffJson } from '../../dist/libs/rules/src/json-diff.js';
import type { Rule } from '../../dist/libs/rules/src/rule-schema.js';
import { ApiClient, ApiError } from './api-client.ts';
import type { CommandGroup } from './command.ts';
import { readRuleDirectory, type RuleFile } from './rule-directory.ts';

interface ServerRule {
  rule: Rule;
  changedBy: string;
  changedAt: string;
}

type Step =
  | { kind: 'create'; file: RuleFile }
  | { kind: 'update'; file: RuleFile; current: ServerRule; paths: string[] }
  | { kind: 'delete'; current: ServerRule }
  | { kind: 'unchanged'; file: RuleFile };

/** What it takes to make the API's rules those of the files: content compared without the version. */
function plan(files: RuleFile[], server: ServerRule[]): Step[] {
  const byId = new Map(server.map((current) => [current.rule.id, current]));
  const steps: Step[] = files.map((file) => {
    const current = byId.get(file.rule.id);
    if (!current) return { kind: 'create', file };
    const paths = diffJson({ ...current.rule, version: undefined }, { ...file.rule, version: undefined }).map(
      (change) => change.path,
    );
    return paths.length === 0 ? { kind: 'unchanged', file } : { kind: 'update', file, current, paths };
  });
  const local = new Set(files.map((file) => file.rule.id));
  for (const current of server) if (!local.has(current.rule.id)) steps.push({ kind: 'delete', current });
  return steps;
}

function describe(step: Step, prune: boolean): string {
  switch (step.kind) {
    case 'create':
      return `+ ${step.file.rule.id}  new, from ${step.file.source}`;
    case 'update':
      return `~ ${step.file.rule.id}  v${step.current.rule.version} → v${step.current.rule.version + 1}: ${step.paths.join(', ')}`;
    case 'delete':
      return `- ${step.current.rule.id}  only on the server${prune ? '' : ' (kept: apply --prune deletes it)'}`;
    case 'unchanged':
      return `= ${step.file.rule.id}`;
  }
}

async function localRules(directory: string): Promise<RuleFile[] | undefined> {
  const { files, problems } = await readRuleDirectory(directory);
  for (const problem of problems)
    console.error(`${problem.source}: ${problem.path || '/'} ${problem.message}`);
  return problems.length === 0 ? files : undefined;
}

function directoryAndFlags(args: string[]): { directory: string; prune: boolean } {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { prune: { type: 'boolean', default: false } },
  });
  return { directory: positionals[0] ?? 'rules', prune: values.prune };
}

export const rulesCommands: CommandGroup = {
  validate: {
    usage: 'fleetlog rules validate [DIR]',
    summary:
      'checks every DIR/*.json (default rules/) locally; exit 1 naming file and JSON path of each problem',
    async run(args) {
      const { directory } = directoryAndFlags(args);
      const files = await localRules(directory);
      if (!files) return 1;
      console.log(`${files.length} rule(s) in ${directory} are valid`);
      return 0;
    },
  },

  diff: {
    usage: 'fleetlog rules diff [DIR]',
    summary:
      'what apply would change on the API; exit 0 when nothing, 1 when something, 2 on trouble (as diff(1))',
    async run(args) {
      const { directory } = directoryAndFlags(args);
      const files = await localRules(directory);
      if (!files) return 2;
      const api = ApiClient.fromEnvironment(process.env);
      const steps = plan(files, await api.request<ServerRule[]>('GET', '/rules'));
      const changes = steps.filter((step) => step.kind !== 'unchanged');
      for (const step of changes) console.log(describe(step, false));
      if (changes.length === 0) console.log(`no differences: ${steps.length} rule(s) as in ${directory}`);
      return changes.length === 0 ? 0 : 1;
    },
  },

  apply: {
    usage: 'fleetlog rules apply [DIR] [--prune]',
    summary:
      'creates the rules the API lacks and updates changed ones (If-Match); deletes rules without a file only with --prune',
    async run(args) {
      const { directory, prune } = directoryAndFlags(args);
      const files = await localRules(directory);
      if (!files) return 1;
      const api = ApiClient.fromEnvironment(process.env);
      const steps = plan(files, await api.request<ServerRule[]>('GET', '/rules'));
      let failures = 0;
      for (const step of steps) {
        if (step.kind === 'unchanged' || (step.kind === 'delete' && !prune)) continue;
        try {
          if (step.kind === 'create') await api.request('POST', '/rules', { body: step.file.rule });
          if (step.kind === 'update') {
            await api.request('PUT', `/rules/${step.file.rule.id}`, {
              body: { ...step.file.rule, version: step.current.rule.version },
              ifMatch: step.current.rule.version,
            });
          }
          if (step.kind === 'delete') {
            await api.request('DELETE', `/rules/${step.current.rule.id}`, {
              ifMatch: step.current.rule.version,
            });
          }
          console.log(describe(step, prune));
        } catch (error) {
          if (!(error instanceof ApiError)) throw error;
          failures++;
          const source = step.kind === 'delete' ? '' : `${step.file.source}: `;
          console.error(`${source}${error.message}`);
        }
      }
      const applied = steps.filter((step) => step.kind !== 'unchanged').length;
      console.log(`${applied - failures} change(s) applied, ${failures} failed`);
      return failures === 0 ? 0 : 1;
    },
  },
};
