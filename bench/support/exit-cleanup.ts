/**
 * What a bench started and must stop however it ends: at the end of its main flow, on a failure outside it (a socket
 * handler, a timer), on Ctrl-C or its own time limit. The apps and brokers it spawns are not in its process group's
 * fate: a bench that died without stopping them left them running, loading the machine and holding their ports.
 */
const cleanups: Array<() => Promise<unknown>> = [];

/** Runs at clean-up, after everything registered later (last started, first stopped). */
export function stopAtExit(cleanup: () => Promise<unknown>): void {
  cleanups.push(cleanup);
}

export async function cleanUp(): Promise<void> {
  for (const cleanup of cleanups.splice(0).reverse()) {
    await cleanup().catch((error: unknown) => process.stderr.write(`cleanup failed: ${String(error)}\n`));
  }
}

let aborting = false;

/**
 * Cleans up and exits with `exitCode`, saying why. Once: the main flow usually fails too while its apps are being
 * stopped under it, and exiting on that second failure would cut the clean-up short.
 */
export function abort(reason: string, exitCode: number): void {
  process.stderr.write(`${reason}\n`);
  if (aborting) return;
  aborting = true;
  void cleanUp().finally(() => process.exit(exitCode));
}

/** Aborts on an uncaught exception, an unhandled rejection or SIGINT, cleaning up first. */
export function abortOnFailure(): void {
  process.on('uncaughtException', (error) => abort(`failed: ${error.stack ?? String(error)}`, 1));
  process.on('unhandledRejection', (error) => abort(`failed: ${String(error)}`, 1));
  process.on('SIGINT', () => abort('interrupted: stopping', 130));
}
