import { Module, type DynamicModule } from '@nestjs/common';
import type { Logger } from 'pino';
import { APP_CONFIG, type GatewayConfig } from '@fleetlog/config';
import { LOGGER, OpsModule } from '@fleetlog/observability';
import { TelemetryForwarder } from './telemetry-forwarder';

@Module({})
export class GatewayModule {
  static forConfig(config: GatewayConfig, logger: Logger): DynamicModule {
    return {
      module: GatewayModule,
      imports: [OpsModule.forApp('gateway')],
      providers: [
        { provide: APP_CONFIG, useValue: config },
        { provide: LOGGER, useValue: logger },
        TelemetryForwarder,
      ],
    };
  }
}
