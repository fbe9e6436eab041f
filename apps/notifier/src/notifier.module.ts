import { Module, type DynamicModule } from '@nestjs/common';
import type { Logger } from 'pino';
import { APP_CONFIG, type NotifierConfig } from '@fleetlog/config';
import { LOGGER, OpsModule } from '@fleetlog/observability';
import { AlertFanOut } from './alert-fan-out';
import { DeliveryLog } from './delivery-log';
import { DeliveryWorker } from './delivery-worker';
import { JobTable } from './job-table';
import { Notifier } from './notifier';
import { NotifierKafka } from './notifier-kafka';
import { NotifierMetrics } from './notifier-metrics';
import { TargetTable } from './target-table';

@Module({})
export class NotifierModule {
  static forConfig(config: NotifierConfig, logger: Logger): DynamicModule {
    return {
      module: NotifierModule,
      imports: [OpsModule.forApp('notifier')],
      providers: [
        { provide: APP_CONFIG, useValue: config },
        { provide: LOGGER, useValue: logger },
        NotifierKafka,
        NotifierMetrics,
        TargetTable,
        JobTable,
        DeliveryLog,
        DeliveryWorker,
        AlertFanOut,
        Notifier,
      ],
    };
  }
}
