import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put } from '@nestjs/common';
import { z } from 'zod';
import { webhookTargetIdPattern } from '@fleetlog/contracts';
import { Principal, RequireRole, type ApiPrincipal } from '../auth/require-role';
import { ZodValidationPipe } from '../http/zod-validation.pipe';
import { Operation } from '../openapi/operation';
import { WebhookTargetsService } from './webhook-targets.service';

const identifier = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, '1 to 64 letters, digits, _ or -');
const severity = z.enum(['info', 'warning', 'critical']);

const webhookTargetInputSchema = z.strictObject({
  url: z.url({ protocol: /^https?$/, error: 'must be an http or https URL' }).max(2048),
  enabled: z.boolean().default(true),
  filters: z
    .strictObject({
      fleetIds: z.array(identifier).max(1000).optional(),
      ruleIds: z.array(identifier).max(1000).optional(),
      severities: z.array(severity).optional(),
    })
    .default({}),
  /** Admin only. */
  allowPrivateNetwork: z.boolean().default(false),
});

const webhookTargetSchema = webhookTargetInputSchema.extend({
  id: z.string(),
  changedBy: z.string(),
  changedAt: z.iso.datetime(),
});
const withSecret = webhookTargetSchema.extend({ secret: z.string() });
const targetId = new ZodValidationPipe(z.string().regex(webhookTargetIdPattern, 'a webhook target id'));
const input = new ZodValidationPipe(webhookTargetInputSchema);

@Controller('webhook-targets')
@RequireRole('operator')
export class WebhookTargetsController {
  constructor(private readonly targets: WebhookTargetsService) {}

  @Get()
  @Operation({ summary: 'List webhook targets (without secrets)', response: z.array(webhookTargetSchema) })
  list() {
    return this.targets.list();
  }

  @Get(':id')
  @Operation({ summary: 'Read a webhook target (without its secret)', response: webhookTargetSchema })
  get(@Param('id', targetId) id: string) {
    return this.targets.get(id);
  }

  @Post()
  @Operation({
    summary: 'Create a webhook target; its signing secret is in this answer only',
    response: withSecret,
  })
  create(@Body(input) body: z.infer<typeof webhookTargetInputSchema>, @Principal() principal: ApiPrincipal) {
    return this.targets.create(body, principal);
  }

  @Put(':id')
  @Operation({ summary: 'Replace a webhook target; its secret stays', response: webhookTargetSchema })
  replace(
    @Param('id', targetId) id: string,
    @Body(input) body: z.infer<typeof webhookTargetInputSchema>,
    @Principal() principal: ApiPrincipal,
  ) {
    return this.targets.replace(id, body, principal);
  }

  @Post(':id/rotate-secret')
  @HttpCode(200)
  @Operation({
    summary: 'Replace the signing secret; the new one is in this answer only',
    response: withSecret,
    status: 200,
  })
  rotateSecret(@Param('id', targetId) id: string, @Principal() principal: ApiPrincipal) {
    return this.targets.rotateSecret(id, principal);
  }

  @Delete(':id')
  @HttpCode(204)
  @Operation({ summary: 'Delete a webhook target (a tombstone on the topic)', status: 204 })
  delete(@Param('id', targetId) id: string) {
    return this.targets.delete(id);
  }
}
