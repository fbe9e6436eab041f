import 'reflect-metadata';
import { loadConfig, notifierEnvSchema } from '@fleetlog/config';
import { createLogger, runService } from '@fleetlog/observability';
import { NotifierModule } from './notifier.module';

const config = loadConfig(notifierEnvSchema);
const logger = createLogger('notifier', config.LOG_LEVEL);
void runService(NotifierModule.forConfig(config, logger), logger, {
  host: config.HTTP_HOST,
  port: config.HTTP_PORT,
});
