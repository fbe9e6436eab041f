/** One subcommand: `fleetlog <group> <name> [args]`. Resolves with the process exit code. */
export interface Command {
  usage: string;
  summary: string;
  run(args: string[]): Promise<number>;
}

/** The subcommands of one group (`rules`; `replay` next): a new group is a new table in fleetlog.ts. */
export type CommandGroup = Record<string, Command>;
