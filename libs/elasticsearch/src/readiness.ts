import type { Client } from '@elastic/elasticsearch';

/** Cluster health rather than `ping` (HEAD /): the minimal integ-test distribution answers / with 405. */
export async function elasticsearchAnswers(client: Client): Promise<boolean> {
  try {
    const health = await client.cluster.health({ timeout: '1s' }, { requestTimeout: 2_000 });
    return health.status !== 'red';
  } catch {
    return false;
  }
}
