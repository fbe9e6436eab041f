import { Inject, Injectable } from '@nestjs/common';
import type { Client, estypes } from '@elastic/elasticsearch';
import { APP_CONFIG, type ApiConfig } from '@fleetlog/config';
import type { AlertMessage } from '@fleetlog/contracts';
import { datasetNames } from '@fleetlog/elasticsearch';
import { ApiElasticsearch } from '../elasticsearch';

const pageSize = 1_000;
const keepAlive = '1m';

/** The version has no alert index. */
export class MissingAlertIndexError extends Error {
  constructor(readonly index: string) {
    super(`${index} does not exist`);
    this.name = 'MissingAlertIndexError';
  }
}

/** The index holds more alerts than one diff may read. */
export class TooManyAlertsError extends Error {
  constructor(
    readonly index: string,
    readonly alerts: number,
    readonly limit: number,
  ) {
    super(`${index} holds ${alerts} alerts, more than the limit of ${limit}`);
    this.name = 'TooManyAlertsError';
  }
}

/**
 * A job version's alerts, read from its own index (not the read alias, which names the live version only): whole,
 * through a point in time and search_after, so a page boundary never skips or repeats one while cep writes.
 */
@Injectable()
export class JobAlertsRepository {
  private readonly client: Client;

  constructor(
    @Inject(APP_CONFIG) private readonly config: ApiConfig,
    elasticsearch: ApiElasticsearch,
  ) {
    this.client = elasticsearch.client;
  }

  /** Refuses (before reading any) an index holding more than `maxAlerts`. */
  async all(version: string, maxAlerts: number): Promise<AlertMessage[]> {
    const index = datasetNames(this.config.FLEETLOG_NAMESPACE, version).alerts.index;
    if (!(await this.client.indices.exists({ index }))) throw new MissingAlertIndexError(index);
    const { count } = await this.client.count({ index });
    if (count > maxAlerts) throw new TooManyAlertsError(index, count, maxAlerts);
    const { id } = await this.client.openPointInTime({ index, keep_alive: keepAlive });
    const alerts: AlertMessage[] = [];
    try {
      let after: estypes.SortResults | undefined;
      for (;;) {
        const page = await this.client.search<AlertMessage>({
          pit: { id, keep_alive: keepAlive },
          size: pageSize,
          sort: [{ _shard_doc: 'asc' }],
          ...(after && { search_after: after }),
        });
        const hits = page.hits.hits;
        alerts.push(...hits.map((hit) => hit._source!));
        if (hits.length < pageSize || alerts.length > maxAlerts) break;
        after = hits[hits.length - 1]!.sort;
      }
    } finally {
      await this.client.closePointInTime({ id }, { ignore: [404] });
    }
    if (alerts.length > maxAlerts) throw new TooManyAlertsError(index, alerts.length, maxAlerts);
    return alerts;
  }
}
