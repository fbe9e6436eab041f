import { checkVehicleRecord, maxVehicleTags } from './vehicle-record';

const valid = {
  fleetId: 'acme',
  vehicleId: 'truck-1',
  tags: ['reefer', 'eu:north'],
  changedBy: 'ops',
  changedAt: '2026-12-04T18:00:00.000Z',
};

describe('checkVehicleRecord', () => {
  it('returns a record whose key and tags are as the contract says', () => {
    expect(checkVehicleRecord('acme/truck-1', valid)).toEqual(valid);
  });

  it('refuses a record filed under another vehicle’s key', () => {
    expect(() => checkVehicleRecord('acme/truck-2', valid)).toThrow('do not match the key "acme/truck-2"');
    expect(() => checkVehicleRecord('acme/truck 1', { ...valid, vehicleId: 'truck 1' })).toThrow(
      'must be 1 to 64 letters',
    );
  });

  it('names the tag that is not one, or that repeats', () => {
    expect(() => checkVehicleRecord('acme/truck-1', { ...valid, tags: ['reefer', 'Reefer'] })).toThrow(
      'tags/1 is not a tag or repeats one: "Reefer"',
    );
    expect(() => checkVehicleRecord('acme/truck-1', { ...valid, tags: ['eu', 'reefer', 'eu'] })).toThrow(
      'tags/2',
    );
  });

  it('refuses more tags than a vehicle may have, and values that are not records', () => {
    const tags = Array.from({ length: maxVehicleTags + 1 }, (_, index) => `t${index}`);
    expect(() => checkVehicleRecord('acme/truck-1', { ...valid, tags })).toThrow('at most 32');
    expect(() => checkVehicleRecord('acme/truck-1', null)).toThrow('not a JSON object');
    expect(() => checkVehicleRecord('acme/truck-1', { ...valid, changedAt: 5 })).toThrow('changedAt');
  });
});
