import { Module, type DynamicModule } from '@nestjs/common';
import type { Logger } from 'pino';
import { APP_CONFIG, type CepConfig } from '@fleetlog/config';
import { LOGGER, OpsModule } from '@fleetlog/observability';
import { CepMetrics } from './cep-metrics';
import { JobSupervisor } from './job-supervisor';

@Module({})
export class CepModule {
  static forConfig(config: CepConfig, logger: Logger): DynamicModule {
    return {
      module: CepModule,
      imports: [OpsModule.forApp('cep')],
      providers: [
        { provide: APP_CONFIG, useValue: config },
        { provide: LOGGER, useValue: logger },
        CepMetrics,
        JobSupervisor,
      ],
    };
  }
}
