import { acquireInfrastructure, type Infrastructure } from './infrastructure';
import { startTestRun } from './test-namespace';

declare global {
  var fleetlogInfrastructure: Infrastructure | undefined;
  var fleetlogTestRun: string | undefined;
}

/** Once per test run: real servers for the integration tier, their endpoints handed to tests through the environment. */
export default async function globalSetup(): Promise<void> {
  const infrastructure = await acquireInfrastructure(process.env);
  Object.assign(process.env, infrastructure.endpoints);
  globalThis.fleetlogInfrastructure = infrastructure;
  globalThis.fleetlogTestRun = startTestRun(process.env);
  process.stdout.write(
    `\nintegration servers (${infrastructure.source}): ${JSON.stringify(infrastructure.endpoints)}, ` +
      `test run ${globalThis.fleetlogTestRun}\n`,
  );
}
