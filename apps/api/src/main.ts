import 'reflect-metadata';
import { apiEnvSchema, loadConfig } from '@fleetlog/config';
import { createLogger, runService } from '@fleetlog/observability';
import { ApiModule } from './api.module';

const config = loadConfig(apiEnvSchema);
const logger = createLogger('api', config.LOG_LEVEL);
void runService(ApiModule.forConfig(config, logger), logger, {
  host: config.HTTP_HOST,
  port: config.HTTP_PORT,
});
