import type { ArgumentMetadata, PipeTransform } from '@nestjs/common';
import type { z } from 'zod';
import { Problem } from './problem';

export interface ValidationError {
  /** Which part of the request: body, query or param. */
  in: string;
  /** JSON Pointer (RFC 6901) to the offending value within that part; '' is the part as a whole. */
  path: string;
  message: string;
}

/**
 * Validates and parses one part of a request with a zod schema: `@Body(new ZodValidationPipe(schema))`. Invalid
 * input is a 422 listing every problem with its path. The OpenAPI document reads the schema from here too, so a
 * handler declares its input once.
 */
export class ZodValidationPipe<Schema extends z.ZodType> implements PipeTransform<unknown, z.infer<Schema>> {
  constructor(readonly schema: Schema) {}

  transform(value: unknown, metadata: ArgumentMetadata): z.infer<Schema> {
    const result = this.schema.safeParse(value);
    if (result.success) return result.data;
    const part = metadata.type;
    const within = metadata.data ? [metadata.data] : [];
    const errors: ValidationError[] = result.error.issues.flatMap((issue) =>
      // One error per unknown key, at the key itself: the issue's own path is the object holding them.
      (issue.code === 'unrecognized_keys' ? issue.keys.map((key) => [...issue.path, key]) : [issue.path]).map(
        (path) => ({ in: part, path: toPointer([...within, ...path]), message: issue.message }),
      ),
    );
    throw new Problem(422, 'Invalid request', `${errors.length} problem(s) with the request's ${part}`, {
      errors,
    });
  }
}

function toPointer(path: readonly PropertyKey[]): string {
  return path.map((segment) => `/${String(segment).replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');
}
