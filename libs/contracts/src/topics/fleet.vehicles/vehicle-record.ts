import { deviceIdPattern } from '../fleet.telemetry/telemetry-message';

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

/**
 * A fleet.vehicles record as read, checked before a reader trusts it: returns the record, or throws saying what is
 * wrong with it. Its writer validated it; a reader checks again because anyone with write access to the topic could
 * have written it.
 */
export function checkVehicleRecord(key: string, value: unknown): VehicleRecord {
  const record = value as Partial<VehicleRecord> | null;
  if (typeof record !== 'object' || record === null) throw new Error('not a JSON object');
  const { fleetId, vehicleId, tags, changedBy, changedAt } = record;
  if (
    typeof fleetId !== 'string' ||
    typeof vehicleId !== 'string' ||
    key !== vehicleKey(fleetId, vehicleId)
  ) {
    throw new Error(`fleetId and vehicleId do not match the key ${JSON.stringify(key)}`);
  }
  if (!deviceIdPattern.test(fleetId) || !deviceIdPattern.test(vehicleId)) {
    throw new Error('fleetId and vehicleId must be 1 to 64 letters, digits, _ or -');
  }
  if (!Array.isArray(tags) || tags.length > maxVehicleTags) {
    throw new Error(`tags is not a list of at most ${maxVehicleTags}`);
  }
  const invalid = tags.findIndex(
    (tag, index) => typeof tag !== 'string' || !vehicleTagPattern.test(tag) || tags.indexOf(tag) !== index,
  );
  if (invalid >= 0)
    throw new Error(`tags/${invalid} is not a tag or repeats one: ${JSON.stringify(tags[invalid])}`);
  if (typeof changedBy !== 'string' || typeof changedAt !== 'string') {
    throw new Error('changedBy and changedAt must be strings');
  }
  return { fleetId, vehicleId, tags, changedBy, changedAt };
}
