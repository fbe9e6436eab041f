#!/usr/bin/env node
/**
 * fleetlog <group> <command> [args] or fleetlog <command> [args]: the operator's command line. Each group is a table
 * of subcommands; a new one (replay, say) is one more entry in `groups`, a command on its own one more in `commands`.
 */
import { UsageError } from './api-client.ts';
import type { Command, CommandGroup } from './command.ts';
import { replayCommands } from './replay-commands.ts';
import { rulesCommands } from './rules-commands.ts';
import { simulateCommand } from './simulate-command.ts';
import { telemetryCommand } from './telemetry-command.ts';

const groups: Record<string, CommandGroup> = { rules: rulesCommands, replay: replayCommands };
/** Commands that are a group of their own: `fleetlog simulate [flags]`, `fleetlog telemetry [flags]`. */
const commands: Record<string, Command> = { simulate: simulateCommand, telemetry: telemetryCommand };

function usage(): string {
  const lines = [
    ...Object.values(groups).flatMap((group) => Object.values(group)),
    ...Object.values(commands),
  ].map((command) => `  ${command.usage}\n      ${command.summary}`);
  return `usage:\n${lines.join('\n')}\n\nenvironment: FLEETLOG_API_URL (default http://127.0.0.1:3000), FLEETLOG_API_KEY`;
}

async function main(argv: string[]): Promise<number> {
  const [name = '', ...rest] = argv;
  const [commandName = '', ...groupArgs] = rest;
  const single = commands[name];
  const command = single ?? groups[name]?.[commandName];
  const args = single ? rest : groupArgs;
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
