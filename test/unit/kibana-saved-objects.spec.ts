// Kibana cannot run here, so these hold docker/kibana/*.ndjson to what an import into the Kibana of
// docker-compose.yml needs: objects that parse, references that resolve inside the files, data views on the read
// aliases cep writes, and only fields that the index templates map, with a type the chart can use. They read the
// files as written and the templates from libs/elasticsearch, so renaming a mapped field fails here.
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import type { estypes } from '@elastic/elasticsearch';
import { cepEnvSchema, loadConfig } from '@fleetlog/config';
import { datasetNames, mappingsByDataset, type DatasetKey } from '@fleetlog/elasticsearch';

interface SavedObjectReference {
  id: string;
  name: string;
  type: string;
}

interface SavedObject {
  id: string;
  type: string;
  coreMigrationVersion?: string;
  typeMigrationVersion?: string;
  attributes: Record<string, unknown>;
  references: SavedObjectReference[];
}

/** What a field must be mapped as for the place that uses it; `any` only needs it to exist (a tooltip). */
type FieldKind = 'date' | 'numeric' | 'keyword' | 'geo_point' | 'aggregatable' | 'any';

interface FieldUse {
  object: string;
  dataset: DatasetKey;
  field: string;
  kind: FieldKind;
}

type Mappings = Record<DatasetKey, estypes.MappingTypeMapping>;

const repoRoot = resolve(__dirname, '..', '..');
const kibanaDir = join(repoRoot, 'docker', 'kibana');
const readRepoFile = (path: string) => readFileSync(join(repoRoot, path), 'utf8');
const ndjsonFiles = readdirSync(kibanaDir).filter((name) => name.endsWith('.ndjson'));
const lines = ndjsonFiles.flatMap((file) =>
  readFileSync(join(kibanaDir, file), 'utf8')
    .split('\n')
    .map((text, index) => ({ where: `${file}:${index + 1}`, text }))
    .filter(({ text }) => text.trim() !== ''),
);

const compose = parse(readRepoFile('docker/docker-compose.yml'), { merge: true }) as {
  services: Record<string, { image?: string; environment?: Record<string, unknown> }>;
};
const kibanaVersion = compose.services.kibana?.image?.split(':').at(-1) ?? '';

// The aliases that the cep of docker-compose.yml writes behind: its namespace and job version, or their defaults.
const cepEnvironment = compose.services.cep?.environment ?? {};
const cepConfig = loadConfig(
  cepEnvSchema,
  Object.fromEntries(
    (['FLEETLOG_NAMESPACE', 'CEP_JOB_VERSION'] as const)
      .filter((key) => cepEnvironment[key] !== undefined)
      .map((key) => [key, String(cepEnvironment[key])]),
  ),
);
const datasets = datasetNames(cepConfig.FLEETLOG_NAMESPACE, cepConfig.CEP_JOB_VERSION);
const datasetByAlias = new Map(
  (Object.keys(datasets) as DatasetKey[]).map((dataset) => [datasets[dataset].alias, dataset]),
);

/** Attributes that Kibana stores as JSON inside a string. */
const nestedJsonAttributes = new Set([
  'visState',
  'uiStateJSON',
  'searchSourceJSON',
  'layerListJSON',
  'mapStateJSON',
  'panelsJSON',
  'optionsJSON',
  'fieldFormatMap',
  'fieldAttrs',
  'runtimeFieldMap',
  'state',
]);

/** Every nested JSON string in an object's attributes, by its path, e.g. `kibanaSavedObjectMeta.searchSourceJSON`. */
function nestedJsonStrings(attributes: Record<string, unknown>, prefix = ''): Array<[string, string]> {
  return Object.entries(attributes).flatMap(([key, value]): Array<[string, string]> => {
    if (typeof value === 'string' && nestedJsonAttributes.has(key)) return [[`${prefix}${key}`, value]];
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      return nestedJsonStrings(value as Record<string, unknown>, `${prefix}${key}.`);
    }
    return [];
  });
}

/** The parse error, with where it happened, or undefined. */
function jsonProblem(where: string, text: string): string | undefined {
  try {
    JSON.parse(text);
    return undefined;
  } catch (error) {
    return `${where}: ${(error as Error).message}`;
  }
}

// A line that does not parse is reported by the first test, not here, where it would stop the whole file.
const objects = lines.flatMap(({ where, text }) =>
  jsonProblem(where, text) ? [] : [JSON.parse(text) as SavedObject],
);
const objectsOfType = (type: string) => objects.filter((object) => object.type === type);
const nested = (object: SavedObject, path: string): unknown => {
  const text = nestedJsonStrings(object.attributes).find(([key]) => key === path)?.[1];
  return text === undefined ? undefined : JSON.parse(text);
};

function referenced(object: SavedObject, name: string): SavedObject {
  const reference = object.references.find((candidate) => candidate.name === name);
  if (!reference) throw new Error(`${object.type} ${object.id} has no reference named "${name}"`);
  const target = objects.find(
    (candidate) => candidate.type === reference.type && candidate.id === reference.id,
  );
  if (!target)
    throw new Error(`${object.type} ${object.id}: ${reference.type} ${reference.id} is not in the files`);
  return target;
}

function datasetOf(dataView: SavedObject): DatasetKey {
  const dataset = datasetByAlias.get(String(dataView.attributes.title));
  if (!dataset)
    throw new Error(`data view ${dataView.id} reads ${String(dataView.attributes.title)}, no read alias`);
  return dataset;
}

const fieldKindByAggregation: Record<string, FieldKind> = {
  date_histogram: 'date',
  avg: 'numeric',
  sum: 'numeric',
  min: 'numeric',
  max: 'numeric',
  median: 'numeric',
  percentiles: 'numeric',
  std_dev: 'numeric',
  terms: 'keyword',
  cardinality: 'aggregatable',
  geotile_grid: 'geo_point',
  geohash_grid: 'geo_point',
  geo_centroid: 'geo_point',
};

function aggregationKind(object: string, type: string): FieldKind {
  const kind = fieldKindByAggregation[type];
  if (!kind) throw new Error(`${object}: no field rule for aggregation "${type}"; add one to this test`);
  return kind;
}

interface VisState {
  aggs?: Array<{ type: string; params?: { field?: string } }>;
}

function visualizationFieldUses(visualization: SavedObject): FieldUse[] {
  const object = `visualization ${visualization.id}`;
  const searchSource = nested(visualization, 'kibanaSavedObjectMeta.searchSourceJSON') as {
    indexRefName: string;
  };
  const dataset = datasetOf(referenced(visualization, searchSource.indexRefName));
  return ((nested(visualization, 'visState') as VisState).aggs ?? [])
    .filter((agg) => agg.params?.field !== undefined)
    .map((agg) => ({ object, dataset, field: agg.params!.field!, kind: aggregationKind(object, agg.type) }));
}

interface MapLayer {
  id: string;
  sourceDescriptor: {
    type: string;
    indexPatternRefName?: string;
    geoField?: string;
    topHitsSplitField?: string;
    sortField?: string;
    tooltipProperties?: string[];
    metrics?: Array<{ type: string; field?: string }>;
  };
  joins?: unknown[];
  style?: {
    properties?: Record<string, { type?: string; options?: { field?: { name: string; origin: string } } }>;
  };
}

function mapFieldUses(map: SavedObject): FieldUse[] {
  return (nested(map, 'layerListJSON') as MapLayer[]).flatMap((layer): FieldUse[] => {
    const object = `map ${map.id}, layer ${layer.id}`;
    const source = layer.sourceDescriptor;
    if (layer.joins?.length) throw new Error(`${object}: joins are not checked by this test; add them`);
    if (!source.indexPatternRefName) return []; // a base map, no data view
    const dataset = datasetOf(referenced(map, source.indexPatternRefName));
    const use = (field: string, kind: FieldKind): FieldUse => ({ object, dataset, field, kind });
    const metrics = (source.metrics ?? []).filter((metric) => metric.field !== undefined);
    // Grid layers style by what their aggregations return (doc_count, sum_of_<field>); search layers by document fields.
    const aggregateOutputs = new Set([
      'doc_count',
      ...metrics.map((metric) => `${metric.type}_of_${metric.field}`),
    ]);
    const styleUses = Object.entries(layer.style?.properties ?? {}).flatMap(([property, style]) => {
      const field = style.options?.field;
      if (style.type !== 'DYNAMIC' || field?.origin !== 'source') return [];
      if (source.type === 'ES_SEARCH') return [use(field.name, 'numeric')];
      if (!aggregateOutputs.has(field.name))
        throw new Error(`${object}: ${property} styles by unknown ${field.name}`);
      return [];
    });
    return [
      ...(source.geoField ? [use(source.geoField, 'geo_point')] : []),
      ...(source.topHitsSplitField ? [use(source.topHitsSplitField, 'keyword')] : []),
      ...(source.sortField ? [use(source.sortField, 'aggregatable')] : []),
      ...(source.tooltipProperties ?? []).map((field) => use(field, 'any')),
      ...metrics.map((metric) => use(metric.field!, aggregationKind(object, metric.type))),
      ...styleUses,
    ];
  });
}

function fieldUses(): FieldUse[] {
  return [
    ...objectsOfType('visualization').flatMap(visualizationFieldUses),
    ...objectsOfType('map').flatMap(mapFieldUses),
  ];
}

/** Field path → mapped type, with object fields flattened (`lineage.topic`). */
function mappedTypes(mapping: estypes.MappingTypeMapping): Map<string, string> {
  const types = new Map<string, string>();
  const visit = (properties: Record<string, estypes.MappingProperty> | undefined, prefix: string) => {
    for (const [name, property] of Object.entries(properties ?? {})) {
      const nestedProperties = (property as { properties?: Record<string, estypes.MappingProperty> })
        .properties;
      if (nestedProperties) visit(nestedProperties, `${prefix}${name}.`);
      else types.set(`${prefix}${name}`, property.type ?? 'object');
    }
  };
  visit(mapping.properties, '');
  return types;
}

const numericTypes = ['long', 'integer', 'short', 'byte', 'double', 'float', 'half_float', 'scaled_float'];
const typeFits: Record<FieldKind, (type: string) => boolean> = {
  date: (type) => type === 'date' || type === 'date_nanos',
  numeric: (type) => numericTypes.includes(type),
  keyword: (type) => type === 'keyword',
  geo_point: (type) => type === 'geo_point',
  aggregatable: (type) => type !== 'text' && type !== 'object',
  any: () => true,
};

function fieldProblems(uses: FieldUse[], mappings: Mappings): string[] {
  return uses.flatMap(({ object, dataset, field, kind }) => {
    const type = mappedTypes(mappings[dataset]).get(field);
    if (type === undefined) return [`${object}: ${field} is not mapped in the ${dataset} template`];
    if (!typeFits[kind](type))
      return [`${object}: ${field} is ${type} in the ${dataset} template, needs ${kind}`];
    return [];
  });
}

function withField(
  mappings: Mappings,
  dataset: DatasetKey,
  field: string,
  property?: estypes.MappingProperty,
) {
  const copy = structuredClone(mappings);
  const properties = copy[dataset].properties!;
  delete properties[field];
  if (property) properties[field] = property;
  return copy;
}

const newerThan = (version: string, other: string) => {
  const [a, b] = [version, other].map((text) => text.split('.').map(Number));
  const index = a!.findIndex((part, position) => part !== b![position]);
  return index !== -1 && a![index]! > (b![index] ?? 0);
};

describe('docker/kibana saved objects', () => {
  it('parses every NDJSON line and every JSON string nested in the attributes', () => {
    expect(lines.length).toBeGreaterThan(0);
    const problems = lines.flatMap(({ where, text }) => {
      const problem = jsonProblem(where, text);
      if (problem) return [problem];
      const object = JSON.parse(text) as SavedObject;
      return nestedJsonStrings(object.attributes).flatMap(
        ([path, value]) => jsonProblem(`${where} ${path}`, value) ?? [],
      );
    });
    expect(problems).toEqual([]);
    const nestedPaths = objects.flatMap((object) =>
      nestedJsonStrings(object.attributes).map(([path]) => path),
    );
    expect(nestedPaths).toEqual(
      expect.arrayContaining([
        'visState',
        'kibanaSavedObjectMeta.searchSourceJSON',
        'layerListJSON',
        'panelsJSON',
      ]),
    );
  });

  it('holds only object types whose fields this test checks, each id once', () => {
    const types = new Set(objects.map((object) => object.type));
    expect([...types].sort()).toEqual(['dashboard', 'index-pattern', 'map', 'visualization']);
    const keys = objects.map((object) => `${object.type}/${object.id}`);
    expect(keys.length).toBe(new Set(keys).size);
  });

  it('resolves every reference to an object in the files, and every reference name the attributes use', () => {
    for (const object of objects) {
      for (const reference of object.references) {
        const found = objects.some((target) => target.type === reference.type && target.id === reference.id);
        expect({ from: object.id, reference, found }).toEqual({ from: object.id, reference, found: true });
      }
    }
    for (const visualization of objectsOfType('visualization')) {
      const searchSource = nested(visualization, 'kibanaSavedObjectMeta.searchSourceJSON') as Record<
        string,
        unknown
      >;
      // An inline "index" would bypass the references, and an import would not remap it.
      expect(searchSource).not.toHaveProperty('index');
      expect(referenced(visualization, String(searchSource.indexRefName)).type).toBe('index-pattern');
    }
    for (const map of objectsOfType('map')) {
      for (const layer of nested(map, 'layerListJSON') as MapLayer[]) {
        expect(layer.sourceDescriptor).not.toHaveProperty('indexPatternId');
        const refName = layer.sourceDescriptor.indexPatternRefName;
        if (refName) expect(referenced(map, refName).type).toBe('index-pattern');
      }
    }
  });

  it('places on each dashboard panels that resolve, by their panel index, to objects of the panel type', () => {
    const dashboards = objectsOfType('dashboard');
    expect(dashboards.length).toBeGreaterThan(0);
    for (const dashboard of dashboards) {
      const panels = nested(dashboard, 'panelsJSON') as Array<{
        type: string;
        panelIndex: string;
        panelRefName: string;
      }>;
      expect(panels.length).toBeGreaterThan(0);
      for (const panel of panels) {
        // Kibana 8.x prefixes a panel's reference names with its panel index.
        const target = referenced(dashboard, `${panel.panelIndex}:${panel.panelRefName}`);
        expect({ panel: panel.panelIndex, type: target.type }).toEqual({
          panel: panel.panelIndex,
          type: panel.type,
        });
      }
    }
  });

  it('puts every visualization and the map on a dashboard, together charting the fields the dashboards are for', () => {
    const onDashboards = new Set(
      objectsOfType('dashboard').flatMap((dashboard) =>
        dashboard.references.map((reference) => `${reference.type}/${reference.id}`),
      ),
    );
    const charts = [...objectsOfType('visualization'), ...objectsOfType('map')];
    expect(charts.filter((chart) => !onDashboards.has(`${chart.type}/${chart.id}`))).toEqual([]);
    const charted = fieldUses().map(({ dataset, field, kind }) => ({ dataset, field, kind }));
    expect(charted).toEqual(
      expect.arrayContaining([
        { dataset: 'telemetry', field: 'location', kind: 'geo_point' },
        { dataset: 'alerts', field: '@timestamp', kind: 'date' },
        { dataset: 'alerts', field: 'severity', kind: 'keyword' },
        { dataset: 'alerts', field: 'vehicleId', kind: 'keyword' },
        { dataset: 'telemetry', field: 'coolantTempC', kind: 'numeric' },
        { dataset: 'telemetry', field: 'rpm', kind: 'numeric' },
        { dataset: 'telemetry', field: 'batteryV', kind: 'numeric' },
        { dataset: 'aggregates', field: 'fuelUsedL', kind: 'numeric' },
        { dataset: 'aggregates', field: 'idleSeconds', kind: 'numeric' },
        { dataset: 'aggregates', field: 'distanceKm', kind: 'numeric' },
      ]),
    );
  });

  it('has one data view on the read alias of telemetry, aggregates and alerts each, with @timestamp, mapped as a date, as its time field', () => {
    const dataViews = objectsOfType('index-pattern');
    const viewed = dataViews.map(datasetOf);
    expect(viewed.length).toBe(new Set(viewed).size);
    expect(viewed).toEqual(expect.arrayContaining<DatasetKey>(['telemetry', 'aggregates', 'alerts']));
    for (const dataView of dataViews) {
      expect(dataView.attributes.timeFieldName).toBe('@timestamp');
      expect(mappedTypes(mappingsByDataset[datasetOf(dataView)]).get('@timestamp')).toBe('date');
    }
  });

  it('uses only fields that the index template of the data view maps, with a type that fits their use', () => {
    const uses = fieldUses();
    expect(uses.map(({ kind }) => kind)).toEqual(
      expect.arrayContaining(['date', 'numeric', 'keyword', 'geo_point']),
    );
    expect(fieldProblems(uses, mappingsByDataset)).toEqual([]);
  });

  it('would fail for any field the objects use if the templates renamed it or, where the type matters, retyped it as text', () => {
    const uses = fieldUses();
    for (const { dataset, field, kind } of uses) {
      const renamed = withField(mappingsByDataset, dataset, field);
      expect({ field, problems: fieldProblems(uses, renamed).length > 0 }).toEqual({ field, problems: true });
      if (kind !== 'any') {
        const retyped = withField(mappingsByDataset, dataset, field, { type: 'text' });
        expect({ field, problems: fieldProblems(uses, retyped).length > 0 }).toEqual({
          field,
          problems: true,
        });
      }
    }
  });

  it('declares migration versions that the Kibana of docker-compose.yml knows, so the import migrates rather than refuses them', () => {
    expect(kibanaVersion).toMatch(/^\d+\.\d+\.\d+$/);
    for (const object of objects) {
      expect({ id: object.id, core: object.coreMigrationVersion }).toEqual({
        id: object.id,
        core: expect.any(String),
      });
      expect({ id: object.id, tooNew: newerThan(object.coreMigrationVersion!, kibanaVersion) }).toEqual({
        id: object.id,
        tooNew: false,
      });
      expect({ id: object.id, type: object.typeMigrationVersion }).toEqual({
        id: object.id,
        type: expect.any(String),
      });
    }
  });
});
