/** Kafka topics of the pipeline; each has a folder beside this file holding its message contract. */
export const baseTopicNames = {
  telemetry: 'fleet.telemetry',
  telemetryDeadLetters: 'fleet.telemetry.dlq',
  alerts: 'fleet.alerts',
  webhookDeadLetters: 'fleet.webhooks.dlq',
  documentDeadLetters: 'fleet.documents.dlq',
  rules: 'fleet.rules',
  webhookTargets: 'fleet.webhooks.targets',
  jobs: 'fleet.jobs',
  webhookRetries: 'fleet.webhooks.retry',
  gatewayProgress: 'fleet.gateway.progress',
  vehicles: 'fleet.vehicles',
} as const;

export type TopicKey = keyof typeof baseTopicNames;
export type TopicNames = Record<TopicKey, string>;

export interface TopicSpec {
  numPartitions: number;
  configEntries: Array<{ name: string; value: string }>;
}

const keepForever = { name: 'retention.ms', value: '-1' };
/** Latest record per key, kept forever: the topic is the current table of rules, targets or vehicles, readable from offset 0. */
const compacted = [{ name: 'cleanup.policy', value: 'compact' }, keepForever];

/**
 * The telemetry topic is the system of record (Kappa): it is never expired, and replays read it from offset 0.
 * Dead letters and alerts are kept forever too: they are evidence, and small.
 */
export const topicSpecs: Record<TopicKey, TopicSpec> = {
  telemetry: { numPartitions: 6, configEntries: [keepForever] },
  telemetryDeadLetters: { numPartitions: 1, configEntries: [keepForever] },
  alerts: { numPartitions: 3, configEntries: [keepForever] },
  webhookDeadLetters: { numPartitions: 1, configEntries: [keepForever] },
  documentDeadLetters: { numPartitions: 1, configEntries: [keepForever] },
  rules: { numPartitions: 1, configEntries: compacted },
  webhookTargets: { numPartitions: 1, configEntries: compacted },
  jobs: { numPartitions: 1, configEntries: compacted },
  gatewayProgress: { numPartitions: 1, configEntries: compacted },
  vehicles: { numPartitions: 1, configEntries: compacted },
  // Deliveries owed: a week outlasts the longest retry schedule, so nothing pending is ever expired.
  webhookRetries: {
    numPartitions: 3,
    configEntries: [{ name: 'retention.ms', value: String(7 * 86_400_000) }],
  },
};

export function topicNames(namespace: string): TopicNames {
  const prefix = namespace ? `${namespace}.` : '';
  return Object.fromEntries(
    Object.entries(baseTopicNames).map(([key, name]) => [key, `${prefix}${name}`]),
  ) as TopicNames;
}

/** Consumer groups are namespaced like topics, so runs sharing a cluster never join each other's groups. */
export function consumerGroupId(namespace: string, group: string): string {
  return namespace ? `${namespace}.${group}` : group;
}
