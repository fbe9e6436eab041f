import { Injectable, NotFoundException } from '@nestjs/common';
import { vehicleKey, type VehicleRecord } from '@fleetlog/contracts';
import type { ApiPrincipal } from '../auth/require-role';
import type { VehicleInput, VehicleQuery } from './vehicle-schemas';
import { VehiclesTopic } from './vehicles.topic';

/** Ids are ASCII: ordered by code unit, the same on every host whatever its locale. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

@Injectable()
export class VehiclesService {
  constructor(private readonly topic: VehiclesTopic) {}

  /** By fleet, then vehicle; of one fleet and carrying one tag when the query says so. */
  list(query: VehicleQuery): VehicleRecord[] {
    return this.topic
      .list()
      .filter((record) => query.fleet === undefined || record.fleetId === query.fleet)
      .filter((record) => query.tag === undefined || record.tags.includes(query.tag))
      .sort((a, b) => compare(a.fleetId, b.fleetId) || compare(a.vehicleId, b.vehicleId));
  }

  get(fleetId: string, vehicleId: string): VehicleRecord {
    const record = this.topic.get(fleetId, vehicleId);
    if (!record) throw new NotFoundException(`No vehicle ${vehicleKey(fleetId, vehicleId)}.`);
    return record;
  }

  /** The vehicle's tags as given, replacing whatever it had. */
  async put(
    fleetId: string,
    vehicleId: string,
    input: VehicleInput,
    by: ApiPrincipal,
  ): Promise<VehicleRecord> {
    const record: VehicleRecord = {
      fleetId,
      vehicleId,
      tags: input.tags,
      changedBy: by.name,
      changedAt: new Date().toISOString(),
    };
    await this.topic.put(record);
    return record;
  }

  async delete(fleetId: string, vehicleId: string): Promise<void> {
    this.get(fleetId, vehicleId);
    await this.topic.delete(fleetId, vehicleId);
  }
}
