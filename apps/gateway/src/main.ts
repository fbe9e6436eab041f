import 'reflect-metadata';
import { gatewayEnvSchema, loadConfig } from '@fleetlog/config';
import { createLogger, runService } from '@fleetlog/observability';
import { GatewayModule } from './gateway.module';

const config = loadConfig(gatewayEnvSchema);
const logger = createLogger('gateway', config.LOG_LEVEL);
void runService(GatewayModule.forConfig(config, logger), logger, {
  host: config.HTTP_HOST,
  port: config.HTTP_PORT,
});
