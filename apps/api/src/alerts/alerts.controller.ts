import { Body, Controller, Get, Param, Post, Query } from '@nestjs/common';
import { z } from 'zod';
import { Principal, RequireRole, type ApiPrincipal } from '../auth/require-role';
import { ZodValidationPipe } from '../http/zod-validation.pipe';
import { Operation } from '../openapi/operation';
import { AlertsService } from './alerts.service';

const identifier = z.string().max(64);
const severity = z.enum(['info', 'warning', 'critical']);

const alertSearchSchema = z
  .strictObject({
    vehicleId: identifier.optional(),
    fleetId: identifier.optional(),
    ruleId: identifier.optional(),
    severity: severity.optional(),
    status: z.enum(['active', 'cleared', 'acknowledged']).optional(),
    from: z.iso.datetime({ offset: true }).optional().describe('Raised at or after this time'),
    to: z.iso.datetime({ offset: true }).optional().describe('Raised before this time'),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    // Elasticsearch pages by from + size up to 10,000 hits.
    offset: z.coerce.number().int().min(0).max(9_000).default(0),
  })
  .refine((query) => !query.from || !query.to || Date.parse(query.from) < Date.parse(query.to), {
    path: ['to'],
    message: 'must be after from',
  });

const acknowledgementSchema = z.object({
  by: z.string(),
  at: z.iso.datetime(),
  comment: z.string().optional(),
});
const acknowledgeSchema = z.strictObject({ comment: z.string().max(2000).optional() });
const alertPageSchema = z.object({
  total: z.number().int(),
  alerts: z.array(
    z.looseObject({
      alertId: z.string(),
      status: z.enum(['active', 'cleared']),
      ruleId: z.string(),
      severity,
      vehicleId: z.string(),
      fleetId: z.string(),
      message: z.string(),
      startedAt: z.iso.datetime(),
      raisedAt: z.iso.datetime(),
      clearedAt: z.iso.datetime().optional(),
      acknowledged: acknowledgementSchema.optional(),
    }),
  ),
});

@Controller('alerts')
export class AlertsController {
  constructor(private readonly alerts: AlertsService) {}

  @Get()
  @Operation({ summary: 'Search alerts, newest first', response: alertPageSchema })
  search(@Query(new ZodValidationPipe(alertSearchSchema)) query: z.infer<typeof alertSearchSchema>) {
    return this.alerts.search(query);
  }

  @Post(':id/acknowledge')
  @RequireRole('operator')
  @Operation({
    summary: 'Acknowledge an alert (once); the acknowledgement survives its transitions and replays',
    response: acknowledgementSchema.extend({ alertId: z.string() }),
  })
  acknowledge(
    @Param('id', new ZodValidationPipe(z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, 'an alert id'))) id: string,
    @Body(new ZodValidationPipe(acknowledgeSchema)) body: z.infer<typeof acknowledgeSchema>,
    @Principal() principal: ApiPrincipal,
  ) {
    return this.alerts.acknowledge(id, body.comment, principal);
  }
}
