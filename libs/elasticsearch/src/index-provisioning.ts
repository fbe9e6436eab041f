import type { Client } from '@elastic/elasticsearch';
import { datasetNames, indexTemplate, jobDatasets, type DatasetKey } from './index-templates';

/**
 * Installs the index templates, creates a job version's indices (of `keys`: by default every dataset, raw telemetry's
 * shared index included), and points each read alias at them when the alias does not exist yet. An existing alias is
 * left alone: moving it is a promotion's step, not start-up's.
 */
export async function provisionIndices(
  client: Client,
  namespace: string,
  jobVersion: string,
  keys: readonly DatasetKey[] = ['telemetry', ...jobDatasets],
): Promise<void> {
  const datasets = datasetNames(namespace, jobVersion);
  for (const dataset of keys) {
    const names = datasets[dataset];
    await client.indices.putIndexTemplate(indexTemplate(names, dataset));
    if (!(await client.indices.exists({ index: names.index }))) {
      await client.indices.create({ index: names.index }, { ignore: [400] });
    }
    if (!(await client.indices.existsAlias({ name: names.alias }))) {
      await client.indices.putAlias({ index: names.index, name: names.alias });
    }
  }
}

/**
 * Points every read alias at `toVersion`'s indices in one aliases call, which Elasticsearch applies atomically:
 * readers see the old job's documents or the new job's, never a mix or nothing.
 */
export async function pointAliasesAt(client: Client, namespace: string, toVersion: string): Promise<void> {
  const target = datasetNames(namespace, toVersion);
  const actions = [];
  for (const names of jobDatasets.map((dataset) => target[dataset])) {
    const current = await client.indices.getAlias({ name: names.alias }, { ignore: [404] });
    for (const index of Object.keys(current)) {
      if (index !== names.index && 'aliases' in (current[index] ?? {})) {
        actions.push({ remove: { index, alias: names.alias } });
      }
    }
    actions.push({ add: { index: names.index, alias: names.alias } });
  }
  await client.indices.updateAliases({ actions });
}

/**
 * Deletes a job version's indices (never one a read alias points at), raw telemetry aside, which no version owns;
 * the templates stay for other versions.
 */
export async function deleteJobIndices(
  client: Client,
  namespace: string,
  version: string,
): Promise<string[]> {
  const deleted: string[] = [];
  const all = datasetNames(namespace, version);
  for (const names of jobDatasets.map((dataset) => all[dataset])) {
    const aliases = await client.indices.getAlias({ index: names.index }, { ignore: [404] });
    if (Object.keys(aliases[names.index]?.aliases ?? {}).includes(names.alias)) {
      throw new Error(
        `${names.index} is behind the read alias ${names.alias}: promote another version first`,
      );
    }
    const response = await client.indices.delete({ index: names.index }, { ignore: [404] });
    if (response.acknowledged) deleted.push(names.index);
  }
  return deleted;
}
