import { Injectable } from '@nestjs/common';
import { errors, type Client } from '@elastic/elasticsearch';
import type { Rule } from '@fleetlog/rules';
import { ApiElasticsearch } from '../elasticsearch';
import type { JsonChange } from '@fleetlog/rules';

export const ruleActions = ['create', 'update', 'disable', 'enable', 'delete'] as const;
export type RuleAction = (typeof ruleActions)[number];

/** One version of a rule in the audit trail: who made it, when, how, the rule as it became (null: deleted). */
export interface RuleAuditEntry {
  ruleId: string;
  version: number;
  action: RuleAction;
  changedBy: string;
  changedAt: string;
  rule: Rule | null;
  /** Against the previous version, without the version field itself. */
  diff: JsonChange[];
}

/** Another writer has already claimed this version of the rule. */
export class VersionTakenError extends Error {
  constructor(
    readonly ruleId: string,
    readonly version: number,
  ) {
    super(`version ${version} of rule ${ruleId} is already written`);
    this.name = 'VersionTakenError';
  }
}

/** Enough for any rule's history; a longer one is cut to its latest versions. */
const maxHistory = 1_000;

/** The rules' audit trail in Elasticsearch, one document per rule version with the id `ruleId@version`. */
@Injectable()
export class RuleAuditRepository {
  private readonly client: Client;
  private readonly index: string;

  constructor(elasticsearch: ApiElasticsearch) {
    this.client = elasticsearch.client;
    this.index = elasticsearch.indices.ruleAudit;
  }

  /**
   * Writes the entry only if no entry for this rule version exists (`op_type: create`): of two writers of one
   * version, exactly one succeeds. Visible to searches when this resolves.
   */
  async claim(entry: RuleAuditEntry): Promise<void> {
    try {
      await this.client.create({
        index: this.index,
        id: documentId(entry.ruleId, entry.version),
        document: entry,
        refresh: true,
      });
    } catch (error) {
      if (error instanceof errors.ResponseError && error.statusCode === 409) {
        throw new VersionTakenError(entry.ruleId, entry.version);
      }
      throw error;
    }
  }

  /** Withdraws a claim whose record could not be published. */
  async release(ruleId: string, version: number): Promise<void> {
    await this.client.delete(
      { index: this.index, id: documentId(ruleId, version), refresh: true },
      { ignore: [404] },
    );
  }

  async find(ruleId: string, version: number): Promise<RuleAuditEntry | undefined> {
    const response = await this.client.get<RuleAuditEntry>(
      { index: this.index, id: documentId(ruleId, version) },
      { ignore: [404] },
    );
    return response.found ? response._source : undefined;
  }

  /** Oldest first. */
  async history(ruleId: string): Promise<RuleAuditEntry[]> {
    const entries = await this.search(ruleId, maxHistory, 'desc');
    return entries.reverse();
  }

  /** The newest version ever claimed for the rule id, deleted ones included: a re-created rule continues from it. */
  async latestVersion(ruleId: string): Promise<number> {
    const [latest] = await this.search(ruleId, 1, 'desc');
    return latest?.version ?? 0;
  }

  private async search(ruleId: string, size: number, order: 'asc' | 'desc'): Promise<RuleAuditEntry[]> {
    const response = await this.client.search<RuleAuditEntry>({
      index: this.index,
      size,
      query: { term: { ruleId } },
      sort: [{ version: order }],
    });
    return response.hits.hits.map((hit) => hit._source!);
  }
}

function documentId(ruleId: string, version: number): string {
  return `${ruleId}@${version}`;
}
