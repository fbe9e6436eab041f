import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
const stackCli = ['--disable-warning=TimeoutNegativeWarning', 'tools/stack/cli.ts'];

/** The pid of a local-stack server, read from the stack's own status; fails when the tests do not run on it. */
export async function localStackPid(service: 'kafka' | 'elasticsearch' | 'mosquitto'): Promise<number> {
  const { stdout } = await run(process.execPath, [...stackCli, 'status']);
  const row = stdout.split('\n').find((line) => line.startsWith(`${service} `));
  const pid = Number(row?.trim().split(/\s+/)[2]);
  if (!Number.isInteger(pid)) throw new Error(`${service} is not running in the local stack:\n${stdout}`);
  return pid;
}

/** Starts whatever local-stack server is missing, and waits until it answers. */
export async function restartMissingStackServers(): Promise<void> {
  await run(process.execPath, [...stackCli, 'up'], { maxBuffer: 10 * 1024 * 1024 });
}
