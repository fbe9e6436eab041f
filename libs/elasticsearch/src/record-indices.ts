import type { Client, estypes } from '@elastic/elasticsearch';

export type RecordIndexKey = 'apiKeys' | 'acknowledgements' | 'ruleAudit' | 'deliveries';

/**
 * Records of what people and the services did — API keys, acknowledgements, the rules' audit trail, webhook delivery
 * attempts — as opposed to the datasets cep derives from the log (index-templates.ts). A replay neither rebuilds nor
 * replaces them, so these indices are not versioned and have no alias. Acknowledgements are keyed by alert id, which
 * replays keep.
 */
export function recordIndexNames(namespace: string): Record<RecordIndexKey, string> {
  const prefix = namespace ? `${namespace}-` : '';
  return {
    apiKeys: `${prefix}fleet-api-keys`,
    acknowledgements: `${prefix}fleet-alert-acknowledgements`,
    ruleAudit: `${prefix}fleet-rule-audit`,
    deliveries: `${prefix}fleet-webhook-deliveries`,
  };
}

const keyword = { type: 'keyword' } as const;
const date = { type: 'date' } as const;
const integer = { type: 'integer' } as const;

const recordIndexMappings: Record<RecordIndexKey, estypes.MappingTypeMapping> = {
  apiKeys: {
    dynamic: 'strict',
    properties: {
      id: keyword,
      name: keyword,
      role: keyword,
      /** SHA-256 of the key, hex; also the document id. The key itself is never stored. */
      hash: keyword,
      createdBy: keyword,
      createdAt: date,
      revokedAt: date,
    },
  },
  acknowledgements: {
    dynamic: 'strict',
    properties: {
      alertId: keyword,
      by: keyword,
      at: date,
      comment: { type: 'text' },
    },
  },
  /**
   * Who changed which rule when, the rule as it became, and the diff. The document id `ruleId@version` is created
   * once, which makes it the lock that keeps two api instances from both producing the same version.
   */
  ruleAudit: {
    dynamic: false,
    properties: {
      ruleId: keyword,
      version: integer,
      action: keyword,
      changedBy: keyword,
      changedAt: date,
      /** The whole rule stays in the source; the fields one searches by are indexed. */
      rule: { properties: { name: { type: 'text' }, severity: keyword, enabled: { type: 'boolean' } } },
      /** Before and after values vary in type, so only the kind of change and its path are indexed. */
      diff: { properties: { op: keyword, path: keyword } },
    },
  },
  /** The notifier's delivery log: one document per webhook attempt. */
  deliveries: {
    dynamic: false,
    properties: {
      '@timestamp': date,
      targetId: keyword,
      webhookId: keyword,
      alertId: keyword,
      alertStatus: keyword,
      fleetId: keyword,
      ruleId: keyword,
      attempt: integer,
      result: keyword,
      parked: { type: 'boolean' },
      httpStatus: integer,
      error: { type: 'text' },
      durationMs: integer,
    },
  },
};

/** Creates the given record indices when missing; safe to run from every instance at every start. */
export async function provisionRecordIndices(
  client: Client,
  namespace: string,
  keys: readonly RecordIndexKey[],
): Promise<void> {
  const names = recordIndexNames(namespace);
  for (const key of keys) {
    if (await client.indices.exists({ index: names[key] })) continue;
    await client.indices.create(
      {
        index: names[key],
        settings: { number_of_shards: 1, number_of_replicas: 0 },
        mappings: recordIndexMappings[key],
      },
      // Another instance created it in the meantime.
      { ignore: [400] },
    );
  }
}
