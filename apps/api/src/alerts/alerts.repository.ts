import { Injectable } from '@nestjs/common';
import type { estypes } from '@elastic/elasticsearch';
import type { AlertMessage, AlertSeverity, AlertStatus } from '@fleetlog/contracts';
import { ApiElasticsearch } from '../elasticsearch';

export interface AlertFilter {
  vehicleId?: string;
  fleetId?: string;
  ruleId?: string;
  severity?: AlertSeverity;
  status?: AlertStatus;
  /** Raised at or after / before (the document's @timestamp is raisedAt). */
  from?: string;
  to?: string;
  /** Only these alerts. */
  alertIds?: string[];
}

export interface AlertPage {
  total: number;
  alerts: AlertMessage[];
}

/** cep creates the alerts index and alias: until it has, there are no alerts rather than an error. */
const beforeCepStarted = { ignore_unavailable: true, allow_no_indices: true };

/** Alerts as cep stores them, read through the alias. */
@Injectable()
export class AlertsRepository {
  constructor(private readonly elasticsearch: ApiElasticsearch) {}

  async search(filter: AlertFilter, page: { limit: number; offset: number }): Promise<AlertPage> {
    const response = await this.elasticsearch.client.search<AlertMessage>({
      index: this.elasticsearch.alertsAlias,
      ...beforeCepStarted,
      from: page.offset,
      size: page.limit,
      track_total_hits: true,
      sort: [{ '@timestamp': 'desc' }, { alertId: 'asc' }],
      query: { bool: { filter: filtersOf(filter) } },
    });
    const total = response.hits.total;
    return {
      total: typeof total === 'number' ? total : (total?.value ?? 0),
      alerts: response.hits.hits.map((hit) => hit._source!),
    };
  }

  async exists(alertId: string): Promise<boolean> {
    const response = await this.elasticsearch.client.count({
      index: this.elasticsearch.alertsAlias,
      ...beforeCepStarted,
      query: { term: { alertId } },
    });
    return response.count > 0;
  }
}

function filtersOf(filter: AlertFilter): estypes.QueryDslQueryContainer[] {
  const terms = (['vehicleId', 'fleetId', 'ruleId', 'severity', 'status'] as const)
    .filter((field) => filter[field] !== undefined)
    .map((field) => ({ term: { [field]: filter[field] } }));
  return [
    ...terms,
    ...(filter.from || filter.to ? [{ range: { '@timestamp': { gte: filter.from, lt: filter.to } } }] : []),
    ...(filter.alertIds ? [{ terms: { alertId: filter.alertIds } }] : []),
  ];
}
