/**
 * The value of a fleet.vehicles record: what operators say about a vehicle, today its tags, which rules can be scoped
 * to (`scope.tags`). The topic is compacted and keyed by `vehicleKey`; a tombstone (null value) deletes the entry,
 * and a vehicle without one has no tags. Devices never write here: the api does, and cep reads it whole at start and
 * follows it live.
 */
export interface VehicleRecord {
  fleetId: string;
  vehicleId: string;
  /** Distinct, each matching `vehicleTagPattern`, at most `maxVehicleTags`. */
  tags: string[];
  /** The API key that wrote this version. */
  changedBy: string;
  changedAt: string;
}

/** Lower-case, so that `Reefer` and `reefer` can never be two tags an operator has to tell apart. */
export const vehicleTagPattern = /^[a-z0-9][a-z0-9_.:-]{0,63}$/;
export const maxVehicleTags = 32;

/** Fleet and vehicle ids are MQTT topic levels (`[A-Za-z0-9_-]`), so a slash between them is unambiguous. */
export function vehicleKey(fleetId: string, vehicleId: string): string {
  return `${fleetId}/${vehicleId}`;
}
