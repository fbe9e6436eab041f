import {
  freePort,
  startApp,
  waitUntilReady,
  type AppName,
  type AppProcess,
} from '../../tools/main/app-process.ts';
import { endBrokerSession } from '@fleetlog/mqtt';
import { eventually } from './webhook-receiver';

/** The apps a test runs, each a real process from dist/, all in the test's own namespace. */
export class AppFleet {
  readonly output: string[] = [];
  private readonly apps: AppProcess[] = [];
  /** The broker sessions of the gateways launched, by MQTT URL and client id, ended by `stopAll`. */
  private readonly gatewaySessions = new Map<string, { url: string; clientId: string }>();

  constructor(private readonly namespace: string) {}

  async launch(
    name: AppName,
    env: NodeJS.ProcessEnv,
    /**
     * `label` names the app in `output` (its name by default): to tell apart two instances of one app. `port` is its
     * HTTP port (a free one by default), for a test that reads its metrics.
     */
    options: { waitUntilReady?: boolean; label?: string; port?: number } = {},
  ): Promise<AppProcess> {
    const port = options.port ?? (await freePort());
    const appEnv: NodeJS.ProcessEnv = {
      FLEETLOG_NAMESPACE: this.namespace,
      HTTP_PORT: String(port),
      LOG_LEVEL: 'info',
      MQTT_CLIENT_ID: `${this.namespace}-gateway`,
      // Should the run die before `stopAll`, a broker that keeps running still ends the session after this.
      GATEWAY_SESSION_EXPIRY_S: '300',
      ...env,
    };
    if (name === 'gateway') {
      const session = { url: appEnv.MQTT_URL ?? process.env.MQTT_URL!, clientId: appEnv.MQTT_CLIENT_ID! };
      this.gatewaySessions.set(`${session.url} ${session.clientId}`, session);
    }
    const app = startApp(name, appEnv, (line) => this.output.push(`${options.label ?? name}: ${line}`));
    this.apps.push(app);
    void app.exited.then((code) =>
      this.output.push(`${options.label ?? name}: exited (code ${code}, signal ${app.child.signalCode})`),
    );
    if (options.waitUntilReady ?? true) {
      await waitUntilReady(app, `http://127.0.0.1:${port}/health`).catch((error: Error) => {
        throw new Error(`${error.message}\n${this.recentOutput()}`);
      });
    }
    return app;
  }

  /**
   * Stops every app still running, then ends the broker sessions of the gateways it launched: left on the shared
   * broker, each would queue a copy of every message later tests publish. Resolves with the exit codes of the apps it
   * stopped (0 = drained and closed).
   */
  async stopAll(): Promise<Array<number | null>> {
    const running = this.apps.filter((app) => app.child.exitCode === null && app.child.signalCode === null);
    const exitCodes = await Promise.all(running.map((app) => app.stop()));
    for (const { url, clientId } of this.gatewaySessions.values()) await endBrokerSession(url, clientId);
    return exitCodes;
  }

  /** The last lines the apps printed, to explain a failure; `worrying`: only warnings, errors and exits. */
  recentOutput(lines = 40, worrying = false): string {
    const shown = worrying
      ? this.output.filter((line) => !line.includes('{"level":') || /"level":(40|50|60)/.test(line))
      : this.output;
    return shown.slice(-lines).join('\n');
  }

  /** `eventually`, with the apps' last lines in the error should the probe never answer. */
  eventually<T>(
    probe: () => Promise<T | undefined> | T | undefined,
    what: string,
    timeoutMs = 30_000,
  ): Promise<T> {
    return eventually(probe, timeoutMs, what).catch((error: Error) => {
      throw new Error(`${error.message}\n${this.recentOutput()}`);
    });
  }
}
