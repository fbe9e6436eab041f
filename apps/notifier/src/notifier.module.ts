import { Module, type DynamicModule } from '@nestjs/common';
import type { Logger } from 'pino';
import { APP_CONFIG, type NotifierConfig } from '@fleetlog/config';
import { LOGGER, OpsModule } from '@fleetlog/observability';
import { AlertNotifier } from './alert-notifier';

@Module({})
export class NotifierModule {
  static forConfig(config: NotifierConfig, logger: Logger): DynamicModule {
    return {
      module: NotifierModule,
      imports: [OpsModule.forApp('notifier')],
      providers: [
        { provide: APP_CONFIG, useValue: config },
        { provide: LOGGER, useValue: logger },
        AlertNotifier,
      ],
    };
  }
}
