import type { Client } from '@elastic/elasticsearch';
import { datasetNames, indexTemplate, type DatasetKey } from './index-templates';

/**
 * Installs the index templates, creates this job version's indices, and points each read alias at them when the
 * alias does not exist yet. An existing alias is left alone: moving it is the replay's promote step, not start-up's.
 */
export async function provisionIndices(client: Client, namespace: string, jobVersion: string): Promise<void> {
  const datasets = datasetNames(namespace, jobVersion);
  for (const [dataset, names] of Object.entries(datasets) as Array<
    [DatasetKey, (typeof datasets)[DatasetKey]]
  >) {
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
  for (const names of Object.values(target)) {
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

/** Deletes a job version's indices (never one a read alias points at); the templates stay for other versions. */
export async function deleteJobIndices(
  client: Client,
  namespace: string,
  version: string,
): Promise<string[]> {
  const deleted: string[] = [];
  for (const names of Object.values(datasetNames(namespace, version))) {
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
