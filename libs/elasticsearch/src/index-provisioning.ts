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
