import { BadRequestException, Controller, Get, Query } from '@nestjs/common';
import { z } from 'zod';
import type { AlertMessage } from '@fleetlog/contracts';
import { AlertsRepository } from './alerts.repository';

const alertQuerySchema = z.strictObject({
  vehicleId: z.string().max(64).optional(),
  ruleId: z.string().max(64).optional(),
  status: z.enum(['active', 'cleared']).optional(),
  severity: z.enum(['info', 'warning', 'critical']).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

function parseQuery(raw: unknown) {
  const result = alertQuerySchema.safeParse(raw);
  if (result.success) return result.data;
  throw new BadRequestException(
    result.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message })),
  );
}

@Controller('alerts')
export class AlertsController {
  constructor(private readonly alerts: AlertsRepository) {}

  @Get()
  search(@Query() query: Record<string, string>): Promise<AlertMessage[]> {
    return this.alerts.search(parseQuery(query));
  }
}
