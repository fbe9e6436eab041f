import type { ChildProcess } from 'node:child_process';
import { supervise, type AppProcess } from './app-process.ts';

/** Processes the test ends by hand: `end` as if the app exited by itself, `stop` as a requested stop. */
function fakeApps() {
  const started: Array<AppProcess & { end: () => void }> = [];
  const start = (): AppProcess => {
    let end: (code: number | null) => void = () => undefined;
    const exited = new Promise<number | null>((resolve) => (end = resolve));
    const app = {
      name: 'cep' as const,
      child: { exitCode: 1, signalCode: null } as unknown as ChildProcess,
      exited,
      stop: async () => {
        end(0);
        return exited;
      },
      end: () => end(1),
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
