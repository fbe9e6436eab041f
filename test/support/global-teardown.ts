import { deleteTestRunTopics } from './test-namespace';

export default async function globalTeardown(): Promise<void> {
  const infrastructure = globalThis.fleetlogInfrastructure;
  const run = globalThis.fleetlogTestRun;
  if (infrastructure && run) {
    // Best effort: a broker that fails now must not turn a green run red, and its topics only cost disk and start time.
    try {
      const deleted = await deleteTestRunTopics(infrastructure.endpoints.KAFKA_BROKERS, run);
      process.stdout.write(`deleted the ${deleted} topics of test run ${run}\n`);
    } catch (error) {
      process.stdout.write(`could not delete the topics of test run ${run}: ${String(error)}\n`);
    }
  }
  await infrastructure?.release();
}
