import { topicNames } from '@fleetlog/contracts';
import type { Client } from '@elastic/elasticsearch';
import { datasetNames, recordIndexNames } from '@fleetlog/elasticsearch';
import type { AppFleet } from './app-fleet';
import { deleteTopicsWhere } from './test-namespace';

/**
 * Deletes what a test's namespace left in Elasticsearch: the record indices, and each dataset's index and template
 * for the job versions given. Named one by one: Elasticsearch refuses wildcard deletes by default. Topics stay until the
 * run ends (`deleteTestRunTopics`): deleting them here would race the apps' last commits.
 */
export async function removeNamespaceIndices(
  elasticsearch: Client,
  namespace: string,
  jobVersions: readonly string[] = ['v1'],
): Promise<void> {
  for (const index of Object.values(recordIndexNames(namespace))) {
    await elasticsearch.indices.delete({ index }, { ignore: [404] });
  }
  for (const version of jobVersions) {
    for (const names of Object.values(datasetNames(namespace, version))) {
      await elasticsearch.indices.delete({ index: names.index }, { ignore: [404] });
      await elasticsearch.indices.deleteIndexTemplate({ name: names.template }, { ignore: [404] });
    }
  }
}

/** Deletes the namespace's topics (every topic the pipeline creates, whether or not it exists). */
export async function deleteNamespaceTopics(namespace: string): Promise<void> {
  const names = new Set(Object.values(topicNames(namespace)));
  await deleteTopicsWhere(process.env.KAFKA_BROKERS!, (topic) => names.has(topic));
}

/**
 * The end of a spec that ran apps in its own namespace: stops the apps, removes the namespace's indices and closes the
 * client. Prints the apps' last output if one did not exit cleanly; returns the exit codes for the spec to assert.
 */
export async function tearDownNamespace(
  apps: AppFleet,
  elasticsearch: Client,
  namespace: string,
  jobVersions?: readonly string[],
): Promise<Array<number | null>> {
  const exitCodes = await apps.stopAll();
  await removeNamespaceIndices(elasticsearch, namespace, jobVersions);
  await elasticsearch.close();
  if (exitCodes.some((code) => code !== 0)) process.stdout.write(apps.recentOutput(200));
  return exitCodes;
}
