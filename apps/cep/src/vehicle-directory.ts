import type { Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { VehicleRef } from '@fleetlog/cep';
import { checkVehicleRecord, vehicleKey } from '@fleetlog/contracts';
import { CompactedTopicTable } from '@fleetlog/kafka';

/** Tag changes that arrive together (a script tagging a fleet) reach the jobs once. */
const settleMs = 200;

/**
 * The vehicles' tags, which rules can be scoped to: the compacted fleet.vehicles topic, read whole at start and
 * followed live. A record that does not hold a valid vehicle is refused and logged; the vehicle keeps its tags.
 */
export class VehicleDirectory {
  /** Tags by `vehicleKey`. */
  private readonly table: CompactedTopicTable<readonly string[]>;
  private readonly rejected: Counter;
  private readonly changed = new Map<string, VehicleRef>();
  private pending: NodeJS.Timeout | undefined;

  constructor(
    kafka: Kafka,
    topic: string,
    groupPrefix: string,
    private readonly logger: Logger,
    metrics: Registry,
    private readonly onChange: (vehicles: VehicleRef[]) => void,
  ) {
    this.rejected = new Counter({
      name: 'fleetlog_cep_vehicle_records_rejected_total',
      help: 'fleet.vehicles records that did not hold a valid vehicle (the vehicle kept its tags)',
      registers: [metrics],
    });
    const tagged: Gauge = new Gauge({
      name: 'fleetlog_cep_tagged_vehicles',
      help: 'Vehicles with an entry on fleet.vehicles',
      registers: [metrics],
      collect: () => tagged.set(this.table.values().length),
    });
    this.table = new CompactedTopicTable<readonly string[]>(kafka, {
      topic,
      groupPrefix,
      decode: (value, key) => checkVehicleRecord(key, JSON.parse(value.toString('utf8'))).tags,
      onChange: ({ key, value }) => {
        this.logger.info({ vehicle: key, tags: value ?? 'deleted' }, 'vehicle tags changed');
        const [fleetId, vehicleId, ...rest] = key.split('/');
        // A tombstone is not decoded: a key that names no vehicle names none that cep could hold.
        if (vehicleId === undefined || rest.length > 0) return;
        this.changed.set(key, { fleetId: fleetId!, vehicleId });
        this.pending ??= setTimeout(() => this.applyChanges(), settleMs);
      },
      onRejected: ({ key, offset }, error) => {
        this.rejected.inc();
        this.logger.error({ vehicle: key, offset, err: error }, 'vehicle record refused');
      },
    });
  }

  start(): Promise<void> {
    return this.table.start();
  }

  async stop(): Promise<void> {
    clearTimeout(this.pending);
    await this.table.stop();
  }

  readonly tagsOf = (fleetId: string, vehicleId: string): readonly string[] =>
    this.table.get(vehicleKey(fleetId, vehicleId)) ?? [];

  private applyChanges(): void {
    this.pending = undefined;
    const vehicles = [...this.changed.values()];
    this.changed.clear();
    this.onChange(vehicles);
  }
}
