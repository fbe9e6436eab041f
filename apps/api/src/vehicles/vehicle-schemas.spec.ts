import type { ArgumentMetadata } from '@nestjs/common';
import { maxVehicleTags } from '@fleetlog/contracts';
import { Problem } from '../http/problem';
import { ZodValidationPipe } from '../http/zod-validation.pipe';
import { vehicleInputSchema, vehicleQuerySchema } from './vehicle-schemas';

const body: ArgumentMetadata = { type: 'body' };

/** The errors the api would answer for this body, or [] if it passes. */
function errorsOf(input: unknown): Array<{ path: string; message: string }> {
  try {
    new ZodValidationPipe(vehicleInputSchema).transform(input, body);
    return [];
  } catch (error) {
    if (!(error instanceof Problem)) throw error;
    return (error.getResponse() as { errors: Array<{ path: string; message: string }> }).errors;
  }
}

describe('vehicle tags input', () => {
  it('accepts distinct lower-case tags, none at all, and exactly the maximum', () => {
    expect(errorsOf({ tags: ['reefer', 'eu:north', 'adr_class.3', '4x4-trailer'] })).toEqual([]);
    expect(errorsOf({ tags: [] })).toEqual([]);
    expect(errorsOf({ tags: Array.from({ length: maxVehicleTags }, (_, i) => `t${i}`) })).toEqual([]);
  });

  it('refuses a repeated tag at the index of each repetition, naming the first', () => {
    expect(errorsOf({ tags: ['reefer', 'adr', 'reefer', 'reefer'] })).toEqual([
      { in: 'body', path: '/tags/2', message: 'duplicate: "reefer" is already at index 0' },
      { in: 'body', path: '/tags/3', message: 'duplicate: "reefer" is already at index 0' },
    ]);
  });

  it('refuses upper case, a leading separator and an over-long tag at their indices', () => {
    const paths = errorsOf({ tags: ['ok', 'Reefer', '-adr', `a${'b'.repeat(64)}`] }).map((e) => e.path);
    expect(paths).toEqual(['/tags/1', '/tags/2', '/tags/3']);
  });

  it(`refuses more than ${maxVehicleTags} tags at /tags`, () => {
    const tags = Array.from({ length: maxVehicleTags + 1 }, (_, i) => `t${i}`);
    expect(errorsOf({ tags }).map((e) => e.path)).toEqual(['/tags']);
  });

  it('refuses a body without tags or with another member', () => {
    expect(errorsOf({}).map((e) => e.path)).toEqual(['/tags']);
    expect(errorsOf({ tags: [], colour: 'red' }).map((e) => e.path)).toEqual(['/colour']);
  });

  it('takes fleet and tag filters that are valid ids and tags only', () => {
    expect(vehicleQuerySchema.safeParse({ fleet: 'acme', tag: 'reefer' }).success).toBe(true);
    expect(vehicleQuerySchema.safeParse({ fleet: 'a/b' }).success).toBe(false);
    expect(vehicleQuerySchema.safeParse({ tag: 'Reefer' }).success).toBe(false);
    expect(vehicleQuerySchema.safeParse({ vehicle: 'x' }).success).toBe(false);
  });
});
