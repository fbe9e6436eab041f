import type { Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';
import type { VehicleRef } from '@fleetlog/cep';
import { checkVehicleRecord, vehicleKey } from '@fleetlog/contracts';
import { FollowedTable } from './followed-table';

/**
 * The vehicles' tags, which rules can be scoped to: the compacted fleet.vehicles topic, read whole at start and
 * followed live. A record that does not hold a valid vehicle is refused and logged; the vehicle keeps its tags.
 */
export class VehicleDirectory {
  /** Tags by `vehicleKey`. */
  private readonly followed: FollowedTable<readonly string[]>;

  constructor(
    kafka: Kafka,
    topic: string,
    groupPrefix: string,
    logger: Logger,
    metrics: Registry,
    onChange: (vehicles: VehicleRef[]) => void,
  ) {
    this.followed = new FollowedTable<readonly string[]>(kafka, logger, metrics, {
      topic,
      groupPrefix,
      subject: 'vehicle',
      decode: (value, key) => checkVehicleRecord(key, JSON.parse(value.toString('utf8'))).tags,
      summary: (tags) => ({ tags: tags ?? 'deleted' }),
      onSettled: (keys) => onChange(keys.flatMap(vehicleOfKey)),
    });
    const tagged: Gauge = new Gauge({
      name: 'fleetlog_cep_tagged_vehicles',
      help: 'Vehicles with an entry on fleet.vehicles',
      registers: [metrics],
      collect: () => tagged.set(this.followed.table.values().length),
    });
  }

  start(): Promise<void> {
    return this.followed.start();
  }

  stop(): Promise<void> {
    return this.followed.stop();
  }

  readonly tagsOf = (fleetId: string, vehicleId: string): readonly string[] =>
    this.followed.table.get(vehicleKey(fleetId, vehicleId)) ?? [];
}

/** A tombstone is not decoded, so its key is checked here: one that names no vehicle names none cep could hold. */
function vehicleOfKey(key: string): VehicleRef[] {
  const [fleetId, vehicleId, ...rest] = key.split('/');
  return vehicleId === undefined || rest.length > 0 ? [] : [{ fleetId: fleetId!, vehicleId }];
}
