import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { Client } from '@elastic/elasticsearch';
import { APP_CONFIG, type ApiConfig } from '@fleetlog/config';
import {
  datasetNames,
  elasticsearchAnswers,
  provisionRecordIndices,
  recordIndexNames,
  type RecordIndexKey,
} from '@fleetlog/elasticsearch';
import { HealthRegistry } from '@fleetlog/observability';

/** The one Elasticsearch client of the api, and the names of what it reads and writes. */
@Injectable()
export class ApiElasticsearch implements OnModuleInit, OnApplicationShutdown {
  readonly client: Client;
  readonly indices: Record<RecordIndexKey, string>;
  /** Alerts are read through the alias only, so a replay's promotion is invisible here; the job version is moot. */
  readonly alertsAlias: string;

  constructor(
    @Inject(APP_CONFIG) private readonly config: ApiConfig,
    health: HealthRegistry,
  ) {
    this.client = new Client({ node: config.ELASTICSEARCH_URL });
    this.indices = recordIndexNames(config.FLEETLOG_NAMESPACE);
    this.alertsAlias = datasetNames(config.FLEETLOG_NAMESPACE, 'v1').alerts.alias;
    health.register('elasticsearch', () => elasticsearchAnswers(this.client));
  }

  async onModuleInit(): Promise<void> {
    await provisionRecordIndices(this.client, this.config.FLEETLOG_NAMESPACE, [
      'apiKeys',
      'acknowledgements',
      'ruleAudit',
    ]);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.client.close();
  }
}
