import { ConflictException, Injectable } from '@nestjs/common';
import { ApiElasticsearch } from '../elasticsearch';

export interface Acknowledgement {
  alertId: string;
  /** The API key's name. */
  by: string;
  at: string;
  comment?: string;
}

/**
 * The most acknowledged alerts a `status=acknowledged` search considers (newest first): their ids go into one
 * terms query, and Elasticsearch caps those at 65,536.
 */
export const maxAcknowledgedAlerts = 10_000;

/**
 * Acknowledgements live apart from the alerts: cep rewrites an alert document on every transition and a replay
 * rewrites them all, but alert ids are deterministic, so an acknowledgement keyed by alert id outlives both.
 */
@Injectable()
export class AcknowledgementsRepository {
  constructor(private readonly elasticsearch: ApiElasticsearch) {}

  private get index(): string {
    return this.elasticsearch.indices.acknowledgements;
  }

  /** Once per alert: a second acknowledgement is a conflict that names the first. */
  async create(acknowledgement: Acknowledgement): Promise<void> {
    try {
      await this.elasticsearch.client.create({
        index: this.index,
        id: acknowledgement.alertId,
        document: acknowledgement,
        refresh: 'wait_for',
      });
    } catch (error) {
      if ((error as { meta?: { statusCode?: number } }).meta?.statusCode !== 409) throw error;
      const [first] = (await this.find([acknowledgement.alertId])).values();
      throw new ConflictException(`Already acknowledged by ${first?.by} at ${first?.at}.`);
    }
  }

  /** Real-time, by id: an acknowledgement shows in the next search. */
  async find(alertIds: string[]): Promise<Map<string, Acknowledgement>> {
    if (alertIds.length === 0) return new Map();
    const response = await this.elasticsearch.client.mget<Acknowledgement>({
      index: this.index,
      ids: alertIds,
    });
    return new Map(
      response.docs.flatMap((doc) => ('found' in doc && doc.found ? [[doc._id, doc._source!] as const] : [])),
    );
  }

  async acknowledgedAlertIds(): Promise<string[]> {
    const response = await this.elasticsearch.client.search<Acknowledgement>({
      index: this.index,
      size: maxAcknowledgedAlerts,
      sort: [{ at: 'desc' }],
      _source: ['alertId'],
    });
    return response.hits.hits.map((hit) => hit._source!.alertId);
  }
}
