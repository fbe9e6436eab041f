import { Module, type DynamicModule } from '@nestjs/common';
import type { Logger } from 'pino';
import { APP_CONFIG, type ApiConfig } from '@fleetlog/config';
import { LOGGER, OpsModule } from '@fleetlog/observability';
import { AlertsController } from './alerts.controller';
import { AlertsRepository } from './alerts.repository';

@Module({})
export class ApiModule {
  static forConfig(config: ApiConfig, logger: Logger): DynamicModule {
    return {
      module: ApiModule,
      imports: [OpsModule.forApp('api')],
      controllers: [AlertsController],
      providers: [
        { provide: APP_CONFIG, useValue: config },
        { provide: LOGGER, useValue: logger },
        AlertsRepository,
      ],
    };
  }
}
