import { acquireInfrastructure, type Infrastructure } from './infrastructure';

declare global {
  var fleetlogInfrastructure: Infrastructure | undefined;
}

/** Once per test run: real servers for the integration tier, their endpoints handed to tests through the environment. */
export default async function globalSetup(): Promise<void> {
  const infrastructure = await acquireInfrastructure(process.env);
  Object.assign(process.env, infrastructure.endpoints);
  globalThis.fleetlogInfrastructure = infrastructure;
  process.stdout.write(
    `\nintegration servers (${infrastructure.source}): ${JSON.stringify(infrastructure.endpoints)}\n`,
  );
}
