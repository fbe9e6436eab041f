import { Body, Controller, Delete, Get, Param, Post } from '@nestjs/common';
import { z } from 'zod';
import { ZodValidationPipe } from '../http/zod-validation.pipe';
import { Operation } from '../openapi/operation';
import { ApiKeysService } from './api-keys.service';
import { Principal, RequireRole, apiRoles, type ApiPrincipal } from './require-role';

const createApiKeySchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9._@-]{1,64}$/, '1 to 64 letters, digits, or . _ @ -'),
  role: z.enum(apiRoles),
});

const apiKeySchema = z.object({
  id: z.string(),
  name: z.string(),
  role: z.enum(apiRoles),
  createdBy: z.string(),
  createdAt: z.iso.datetime(),
  revokedAt: z.iso.datetime().optional(),
});

const keyIdSchema = z.string().regex(/^key_[0-9a-f]{16}$/, 'an API key id: key_ and 16 hex digits');

@Controller('api-keys')
@RequireRole('admin')
export class ApiKeysController {
  constructor(private readonly keys: ApiKeysService) {}

  @Post()
  @Operation({
    summary: 'Create an API key; the key is in this answer only',
    response: apiKeySchema.extend({ key: z.string() }),
    status: 201,
  })
  create(
    @Body(new ZodValidationPipe(createApiKeySchema)) request: z.infer<typeof createApiKeySchema>,
    @Principal() principal: ApiPrincipal,
  ) {
    return this.keys.create(request, principal);
  }

  @Get()
  @Operation({ summary: 'List API keys (without the keys)', response: z.array(apiKeySchema) })
  list() {
    return this.keys.list();
  }

  @Delete(':id')
  @Operation({ summary: 'Revoke an API key', response: apiKeySchema })
  revoke(@Param('id', new ZodValidationPipe(keyIdSchema)) id: string) {
    return this.keys.revoke(id);
  }
}
