import type { AlertMessage, TelemetryRecord } from '@fleetlog/contracts';
import type { DatasetKey, DatasetNames, DocumentWrite } from '@fleetlog/elasticsearch';
import type { ConsumedRecord } from '@fleetlog/kafka';
import { AlertTracker, type ConditionEvaluator, type Facts } from '@fleetlog/rules';

export interface ProcessedBatch {
  /** Everything to store, telemetry and alert documents, in log order. */
  writes: DocumentWrite[];
  /** Alert transitions to publish on fleet.alerts. */
  alerts: AlertMessage[];
  /** Records that could not be read: the gateway validated them, so these mean a foreign producer wrote to the topic. */
  unreadable: ConsumedRecord[];
}

/**
 * What happens to one telemetry record in cep: decode, evaluate the rules, update the alert lifecycle, and shape
 * the documents to index. No I/O: the caller stores the result and commits the offsets behind it.
 */
export class TelemetryProcessor {
  constructor(
    private readonly evaluator: ConditionEvaluator,
    private readonly tracker: AlertTracker,
    private readonly indices: Record<DatasetKey, DatasetNames>,
  ) {}

  async process(records: readonly ConsumedRecord[]): Promise<ProcessedBatch> {
    const batch: ProcessedBatch = { writes: [], alerts: [], unreadable: [] };
    for (const consumed of records) {
      const telemetry = decode(consumed.value);
      if (!telemetry) {
        batch.unreadable.push(consumed);
        continue;
      }
      batch.writes.push({
        index: this.indices.telemetry.index,
        // The log position identifies the event: reprocessing the same record rewrites the same document.
        id: `${consumed.partition}-${consumed.offset}`,
        document: telemetryDocument(telemetry, consumed),
        action: 'create',
      });
      const facts = telemetry as unknown as Facts;
      const transitions = this.tracker.observe(
        {
          vehicleId: telemetry.vehicleId,
          fleetId: telemetry.fleetId,
          eventTime: Date.parse(telemetry.ts),
          facts,
          lineage: { topic: consumed.topic, partition: consumed.partition, offset: consumed.offset },
        },
        await this.evaluator.matchingRuleIds(facts),
      );
      for (const alert of transitions) {
        batch.alerts.push(alert);
        batch.writes.push({
          index: this.indices.alerts.index,
          id: alert.alertId,
          document: alertDocument(alert),
          action: 'index',
        });
      }
    }
    return batch;
  }
}

function decode(value: Buffer): TelemetryRecord | undefined {
  try {
    const parsed = JSON.parse(value.toString('utf8')) as TelemetryRecord;
    return typeof parsed?.vehicleId === 'string' && typeof parsed.ts === 'string' ? parsed : undefined;
  } catch {
    return undefined;
  }
}

export function telemetryDocument(telemetry: TelemetryRecord, consumed: ConsumedRecord): object {
  const { position, ts, ...readings } = telemetry;
  return {
    '@timestamp': ts,
    ...readings,
    ...(position && {
      location: { lat: position.lat, lon: position.lon },
      headingDeg: position.headingDeg,
      gnssSpeedKph: position.gnssSpeedKph,
    }),
    kafkaPartition: consumed.partition,
    kafkaOffset: consumed.offset,
  };
}

export function alertDocument(alert: AlertMessage): object {
  return { '@timestamp': alert.raisedAt, ...alert };
}
