import { z } from 'zod';
import { maxVehicleTags, vehicleTagPattern } from '@fleetlog/contracts';
import { deviceId } from '../http/device-id';

export const vehicleTag = z
  .string()
  .regex(vehicleTagPattern, 'a lower-case letter or digit, then up to 63 of a-z, 0-9, _ . : -');

/** Distinct tags, at most `maxVehicleTags`; a repeated one is refused at its own index. */
export const vehicleTagsSchema = z
  .array(vehicleTag)
  .max(maxVehicleTags)
  .superRefine((tags, context) => {
    const firstIndex = new Map<string, number>();
    tags.forEach((tag, index) => {
      const first = firstIndex.get(tag);
      if (first === undefined) firstIndex.set(tag, index);
      else
        context.addIssue({
          code: 'custom',
          path: [index],
          input: tag,
          message: `duplicate: ${JSON.stringify(tag)} is already at index ${first}`,
        });
    });
  });

export const vehicleInputSchema = z.strictObject({ tags: vehicleTagsSchema });
export type VehicleInput = z.infer<typeof vehicleInputSchema>;

/** What the api answers with: the record as on fleet.vehicles. */
export const vehicleRecordSchema = z.object({
  fleetId: deviceId,
  vehicleId: deviceId,
  tags: vehicleTagsSchema,
  changedBy: z.string(),
  changedAt: z.iso.datetime(),
});

export const vehicleQuerySchema = z.strictObject({
  /** Vehicles of this fleet. */
  fleet: deviceId.optional(),
  /** Vehicles carrying this tag. */
  tag: vehicleTag.optional(),
});
export type VehicleQuery = z.infer<typeof vehicleQuerySchema>;
