import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { Client, type estypes } from '@elastic/elasticsearch';
import { APP_CONFIG, type ApiConfig } from '@fleetlog/config';
import type { AlertMessage } from '@fleetlog/contracts';
import { datasetNames, elasticsearchAnswers } from '@fleetlog/elasticsearch';
import { HealthRegistry } from '@fleetlog/observability';

export interface AlertQuery {
  vehicleId?: string;
  ruleId?: string;
  status?: string;
  severity?: string;
  limit: number;
}

/** Alerts as readers see them: through the read alias, so a replay's promotion is invisible here. */
@Injectable()
export class AlertsRepository implements OnApplicationShutdown {
  private readonly client: Client;
  private readonly alias: string;

  constructor(@Inject(APP_CONFIG) config: ApiConfig, health: HealthRegistry) {
    this.client = new Client({ node: config.ELASTICSEARCH_URL });
    // The job version is irrelevant to readers: they only use the alias.
    this.alias = datasetNames(config.FLEETLOG_NAMESPACE, 'v1').alerts.alias;
    health.register('elasticsearch', () => elasticsearchAnswers(this.client));
  }

  async search(query: AlertQuery): Promise<AlertMessage[]> {
    const filters: estypes.QueryDslQueryContainer[] = (['vehicleId', 'ruleId', 'status', 'severity'] as const)
      .filter((field) => query[field] !== undefined)
      .map((field) => ({ term: { [field]: query[field] } }));
    const response = await this.client.search<AlertMessage>({
      index: this.alias,
      size: query.limit,
      sort: [{ '@timestamp': 'desc' }],
      query: { bool: { filter: filters } },
    });
    return response.hits.hits.map((hit) => hit._source!);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.client.close();
  }
}
