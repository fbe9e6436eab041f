import { SetMetadata } from '@nestjs/common';
import type { z } from 'zod';

export const OPENAPI_OPERATION = 'fleetlog:openapi-operation';

export interface OperationDescription {
  summary: string;
  /** The success answer's body. */
  response?: z.ZodType;
  /** The success status when not Nest's default (201 for POST, 200 otherwise). */
  status?: number;
}

/**
 * What the OpenAPI document says about a handler beyond what it finds by itself: route, method, required role and
 * the inputs validated with ZodValidationPipe come from the handler's own decorators.
 */
export const Operation = (description: OperationDescription) => SetMetadata(OPENAPI_OPERATION, description);
