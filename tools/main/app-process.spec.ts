import type { ChildProcess } from 'node:child_process';
import { supervise, type AppProcess } from './app-process.ts';

/**
 * Processes the test ends by hand: `end` as if the app exited by itself (with an error by default), `stop` as a
 * requested stop.
 */
function fakeApps() {
  const started: Array<AppProcess & { end: (code?: number | null, signal?: NodeJS.Signals) => void }> = [];
  const start = (): AppProcess => {
    let resolveExit: (code: number | null) => void = () => undefined;
    const exited = new Promise<number | null>((resolve) => (resolveExit = resolve));
    const child = { exitCode: null, signalCode: null } as unknown as {
      exitCode: number | null;
      signalCode: string | null;
    };
    const end = (code: number | null = 1, signal: NodeJS.Signals | null = null) => {
      Object.assign(child, { exitCode: code, signalCode: signal });
      resolveExit(code);
    };
    const app = {
      name: 'cep' as const,
      child: child as unknown as ChildProcess,
      exited,
      stop: async () => {
        end(0);
        return exited;
      },
      end,
    };
    started.push(app);
    return app;
  };
  return { started, start };
}

describe('supervise', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('starts an app that ended by itself again a second later, and reports the ended process', async () => {
    const { started, start } = fakeApps();
    const ended: AppProcess[] = [];
    const app = supervise(start, (process) => ended.push(process));
    started[0]!.end();
    await jest.advanceTimersByTimeAsync(999);
    expect(started).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(started).toHaveLength(2);
    expect(ended).toEqual([started[0]]);
    expect(app.current).toBe(started[1]);
  });

  it('leaves down an app that shut down cleanly or by Ctrl-C, and starts again one that was killed', async () => {
    for (const [code, signal, restarted] of [
      [0, undefined, false],
      [null, 'SIGINT', false],
      [null, 'SIGTERM', false],
      [null, 'SIGKILL', true],
    ] as const) {
      const { started, start } = fakeApps();
      supervise(start, () => undefined);
      started[0]!.end(code, signal);
      await jest.advanceTimersByTimeAsync(1_000);
      expect(started.length > 1).toBe(restarted);
    }
  });

  it('starts nothing again once stopped, even a process that ends during the second of grace', async () => {
    const { started, start } = fakeApps();
    const app = supervise(start, () => undefined);
    started[0]!.end();
    await jest.advanceTimersByTimeAsync(10);
    await app.stop();
    await jest.advanceTimersByTimeAsync(5_000);
    expect(started).toHaveLength(1);
  });
});
