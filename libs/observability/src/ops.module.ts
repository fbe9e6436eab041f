import { Controller, Get, Header, HttpCode, Module, Res, type DynamicModule } from '@nestjs/common';
import { Registry, collectDefaultMetrics } from 'prom-client';
import type { Response } from 'express';
import { HealthRegistry } from './health-registry';

@Controller()
class OpsController {
  constructor(
    private readonly health: HealthRegistry,
    private readonly metrics: Registry,
  ) {}

  @Get('health/live')
  @HttpCode(200)
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('health')
  async ready(@Res({ passthrough: true }) response: Response) {
    const report = await this.health.report();
    response.status(report.status === 'ok' ? 200 : 503);
    return report;
  }

  @Get('metrics')
  @Header('Content-Type', 'text/plain; version=0.0.4')
  scrape(): Promise<string> {
    return this.metrics.metrics();
  }
}

/**
 * Liveness (/health/live), readiness (/health) and Prometheus metrics (/metrics) for every service. Each app gets
 * its own metrics registry, so several apps in one test process never collide on metric names.
 */
@Module({})
export class OpsModule {
  static forApp(app: string): DynamicModule {
    const metrics = new Registry();
    metrics.setDefaultLabels({ app });
    collectDefaultMetrics({ register: metrics });
    return {
      module: OpsModule,
      global: true,
      controllers: [OpsController],
      providers: [HealthRegistry, { provide: Registry, useValue: metrics }],
      exports: [HealthRegistry, Registry],
    };
  }
}
