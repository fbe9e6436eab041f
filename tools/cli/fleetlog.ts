#!/usr/bin/env node
/**
 * fleetlog <group> <command> [args]: the operator's command line. Each group is a table of subcommands; a new one
 * (replay, say) is one more entry in `groups`.
 */
import { UsageError } from './api-client.ts';
import type { CommandGroup } from './command.ts';
import { replayCommands } from './replay-commands.ts';
import { rulesCommands } from './rules-commands.ts';

const groups: Record<string, CommandGroup> = { rules: rulesCommands, replay: replayCommands };

function usage(): string {
  const lines = Object.values(groups).flatMap((group) =>
    Object.values(group).map((command) => `  ${command.usage}\n      ${command.summary}`),
  );
  return `usage:\n${lines.join('\n')}\n\nenvironment: FLEETLOG_API_URL (default http://127.0.0.1:3000), FLEETLOG_API_KEY`;
}

async function main(argv: string[]): Promise<number> {
  const [groupName, commandName, ...args] = argv;
  const command = groupName && commandName ? groups[groupName]?.[commandName] : undefined;
  if (!command) {
    console.error(usage());
    return 2;
  }
  try {
    return await command.run(args);
  } catch (error) {
    if (error instanceof UsageError || (error as NodeJS.ErrnoException).code === 'ENOENT') {
      console.error((error as Error).message);
      return 2;
    }
    throw error;
  }
}

process.exitCode = await main(process.argv.slice(2));
