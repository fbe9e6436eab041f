import 'reflect-metadata';
import { cepEnvSchema, loadConfig } from '@fleetlog/config';
import { createLogger, runService } from '@fleetlog/observability';
import { CepModule } from './cep.module';

const config = loadConfig(cepEnvSchema);
const logger = createLogger('cep', config.LOG_LEVEL);
void runService(CepModule.forConfig(config, logger), logger, {
  host: config.HTTP_HOST,
  port: config.HTTP_PORT,
});
