import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';

export type AppName = 'gateway' | 'cep' | 'notifier' | 'api' | 'simulator';

export interface AppProcess {
  name: AppName;
  child: ChildProcess;
  /** Resolves with the exit code once the process has ended. */
  exited: Promise<number | null>;
  stop(graceMs?: number): Promise<number | null>;
}

/** The entry point of a built app (`npm run build`), relative to the repository root. */
export function builtAppMain(name: AppName): string {
  return join('dist', 'apps', name, 'src', 'main.js');
}

/** Starts one built app (dist/) as its own process, each output line handed to `onLine`. Run from the repository root. */
export function startApp(name: AppName, env: NodeJS.ProcessEnv, onLine: (line: string) => void): AppProcess {
  // kafkajs 2.2.4 arms a negative timer per request (tulios/kafkajs#1751), harmless but warned about by Node 24.
  const args = ['--disable-warning=TimeoutNegativeWarning', builtAppMain(name)];
  const child = spawn(process.execPath, args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  for (const stream of [child.stdout, child.stderr]) {
    let pending = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const lines = (pending + chunk).split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) onLine(line);
    });
  }
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const stop = async (graceMs = 15_000) => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(killer);
    }
    return exited;
  };
  return { name, child, exited, stop };
}

/** Waits until the app's readiness endpoint answers 200, failing early if the process dies. */
export async function waitUntilReady(app: AppProcess, healthUrl: string, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let died = false;
  void app.exited.then(() => (died = true));
  while (Date.now() < deadline) {
    if (died) throw new Error(`${app.name} exited with code ${app.child.exitCode} before it was ready`);
    const ready = await fetch(healthUrl, { signal: AbortSignal.timeout(2_000) }).then(
      (response) => response.ok,
      () => false,
    );
    if (ready) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`${app.name} not ready at ${healthUrl} within ${timeoutMs} ms`);
}

/** A port the OS says is free on loopback right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (typeof address !== 'object' || address === null) throw new Error('no port assigned');
  return address.port;
}

export interface SupervisedApp {
  /** The process running now: a new one after each restart. */
  readonly current: AppProcess;
  /** Stops the app for good: no restart after this. */
  stop(): Promise<void>;
}

/**
 * Starts the app again a second after it fails: exits with an error (apps do so on purpose when they cannot go on, a
 * Kafka consumer that kafkajs will not restart, counting on this) or is killed. An app that shut down cleanly (code 0,
 * or ended by SIGINT or SIGTERM: Ctrl-C reaches the apps too) stays down.
 */
export function supervise(start: () => AppProcess, onRestart: (ended: AppProcess) => void): SupervisedApp {
  let stopped = false;
  let current = start();
  const restartWhenItEnds = (app: AppProcess) =>
    void app.exited.then(async (code) => {
      if (stopped || !failed(code, app.child.signalCode)) return;
      onRestart(app);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      if (stopped) return;
      current = start();
      restartWhenItEnds(current);
    });
  restartWhenItEnds(current);
  return {
    get current() {
      return current;
    },
    async stop() {
      stopped = true;
      await current.stop();
    },
  };
}

function failed(code: number | null, signal: NodeJS.Signals | null): boolean {
  return code !== 0 && signal !== 'SIGINT' && signal !== 'SIGTERM';
}
