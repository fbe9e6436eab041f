import type { estypes } from '@elastic/elasticsearch';

export type DatasetKey = 'telemetry' | 'alerts' | 'aggregates';

/**
 * What a job version derives from the log, and so what a replay rebuilds into its own indices and a promotion swaps.
 * Raw telemetry is not among them: its documents are the log's records as they are, whatever the rules, so one
 * indexer writes them once into an index no job version owns.
 */
export const jobDatasets = ['alerts', 'aggregates'] as const satisfies readonly DatasetKey[];

/** Readers (Kibana, the API) use the alias; writers use the index behind it; a promotion swaps the job datasets' aliases. */
export interface DatasetNames {
  alias: string;
  index: string;
  template: string;
  pattern: string;
}

export function datasetNames(namespace: string, jobVersion: string): Record<DatasetKey, DatasetNames> {
  const prefix = namespace ? `${namespace}-` : '';
  const names = (dataset: DatasetKey): DatasetNames => ({
    alias: `${prefix}fleet-${dataset}`,
    // Numbered like a rollover series, which is where a time-based telemetry index would go.
    index: `${prefix}fleet-${dataset}-${dataset === 'telemetry' ? '000001' : jobVersion}`,
    template: `${prefix}fleet-${dataset}`,
    pattern: `${prefix}fleet-${dataset}-*`,
  });
  return {
    telemetry: names('telemetry'),
    alerts: names('alerts'),
    aggregates: names('aggregates'),
  };
}

const keyword = { type: 'keyword' } as const;
const float = { type: 'float' } as const;
const date = { type: 'date' } as const;

// Core types only (keyword, date, numeric, boolean, geo_point): the same templates run on the minimal integ-test
// distribution and on a full cluster.
const telemetryMappings: estypes.MappingTypeMapping = {
  dynamic: false,
  properties: {
    '@timestamp': date,
    receivedAt: date,
    vehicleId: keyword,
    fleetId: keyword,
    seq: { type: 'long' },
    location: { type: 'geo_point' },
    headingDeg: float,
    gnssSpeedKph: float,
    speedKph: float,
    rpm: float,
    coolantTempC: float,
    intakeAirTempC: float,
    engineLoadPct: float,
    throttlePct: float,
    fuelLevelPct: float,
    batteryV: float,
    mafGs: float,
    odometerKm: { type: 'double' },
    ignition: { type: 'boolean' },
    dtcs: keyword,
    late: { type: 'boolean' },
    secondsSinceLastMessage: float,
    kafkaPartition: { type: 'integer' },
    kafkaOffset: { type: 'long' },
  },
};

const alertMappings: estypes.MappingTypeMapping = {
  dynamic: false,
  properties: {
    '@timestamp': date,
    alertId: keyword,
    status: keyword,
    ruleId: keyword,
    ruleVersion: { type: 'integer' },
    ruleName: keyword,
    severity: keyword,
    vehicleId: keyword,
    fleetId: keyword,
    message: { type: 'text' },
    startedAt: date,
    raisedAt: date,
    clearedAt: date,
    lineage: {
      properties: { topic: keyword, partition: { type: 'integer' }, offset: { type: 'long' } },
    },
    webhookTargetIds: keyword,
  },
};

/** One document per vehicle and closed tumbling window (a minute by default). */
const aggregateMappings: estypes.MappingTypeMapping = {
  dynamic: false,
  properties: {
    '@timestamp': date,
    windowEnd: date,
    vehicleId: keyword,
    fleetId: keyword,
    messages: { type: 'integer' },
    avgSpeedKph: float,
    maxSpeedKph: float,
    maxRpm: float,
    maxCoolantTempC: float,
    distanceKm: { type: 'double' },
    fuelUsedPct: float,
    fuelUsedL: { type: 'double' },
    idleSeconds: float,
    harshEvents: { type: 'integer' },
    location: { type: 'geo_point' },
  },
};

export const mappingsByDataset: Record<DatasetKey, estypes.MappingTypeMapping> = {
  telemetry: telemetryMappings,
  alerts: alertMappings,
  aggregates: aggregateMappings,
};

export function indexTemplate(
  names: DatasetNames,
  dataset: DatasetKey,
): estypes.IndicesPutIndexTemplateRequest {
  return {
    name: names.template,
    index_patterns: [names.pattern],
    // Above the built-in templates' priorities, so ours wins for our patterns.
    priority: 501,
    template: {
      settings: { number_of_shards: 1, number_of_replicas: 0, refresh_interval: '1s' },
      mappings: mappingsByDataset[dataset],
    },
    _meta: { managedBy: 'fleetlog' },
  };
}
