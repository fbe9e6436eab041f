import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { APP_CONFIG, type ApiConfig } from '@fleetlog/config';
import { checkVehicleRecord, vehicleKey, type VehicleRecord } from '@fleetlog/contracts';
import { HealthRegistry, LOGGER } from '@fleetlog/observability';
import { CompactedTopicStore } from '../kafka/compacted-topic-store';

/**
 * fleet.vehicles, what operators say about each vehicle (its tags), which cep reads to scope rules: the api writes
 * records keyed `fleetId/vehicleId` (a tombstone deletes one) and keeps the current table by reading the topic. A
 * record that is not a valid VehicleRecord under its own key is refused; the key keeps its previous entry. A write
 * resolves once the table holds it, so the writer's next read sees its own change.
 */
@Injectable()
export class VehiclesTopic extends CompactedTopicStore<VehicleRecord> {
  constructor(@Inject(APP_CONFIG) config: ApiConfig, @Inject(LOGGER) logger: Logger, health: HealthRegistry) {
    super(config, logger, health, {
      topic: 'vehicles',
      name: 'vehicles',
      decode: (value, key) => checkVehicleRecord(key, JSON.parse(value.toString('utf8'))),
    });
  }

  get(fleetId: string, vehicleId: string): VehicleRecord | undefined {
    return this.table.get(vehicleKey(fleetId, vehicleId));
  }

  /** As cep reads them: a vehicle without a record has no tags. */
  readonly tagsOf = (fleetId: string, vehicleId: string): readonly string[] =>
    this.get(fleetId, vehicleId)?.tags ?? [];

  list(): VehicleRecord[] {
    return this.table.values();
  }

  put(record: VehicleRecord): Promise<void> {
    return this.writeOrUnavailable(vehicleKey(record.fleetId, record.vehicleId), JSON.stringify(record));
  }

  delete(fleetId: string, vehicleId: string): Promise<void> {
    return this.writeOrUnavailable(vehicleKey(fleetId, vehicleId), null);
  }
}
