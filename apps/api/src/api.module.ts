import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, DiscoveryModule } from '@nestjs/core';
import type { Logger } from 'pino';
import { APP_CONFIG, type ApiConfig } from '@fleetlog/config';
import { LOGGER, OpsModule } from '@fleetlog/observability';
import { AcknowledgementsRepository } from './alerts/acknowledgements.repository';
import { AlertsController } from './alerts/alerts.controller';
import { AlertsRepository } from './alerts/alerts.repository';
import { AlertsService } from './alerts/alerts.service';
import { ApiKeyAuthenticator } from './auth/api-key-authenticator';
import { ApiKeysController } from './auth/api-keys.controller';
import { ApiKeysRepository } from './auth/api-keys.repository';
import { ApiKeysService } from './auth/api-keys.service';
import { AuthGuard } from './auth/auth.guard';
import { ApiElasticsearch } from './elasticsearch';
import { ProblemFilter } from './http/problem';
import { DocsController } from './openapi/docs.controller';
import { RateLimitGuard } from './rate-limit/rate-limit.guard';
import { ReplaysModule } from './replays/replays.module';
import { RulesModule } from './rules/rules.module';
import { VehiclesController } from './vehicles/vehicles.controller';
import { VehiclesService } from './vehicles/vehicles.service';
import { VehiclesTopic } from './vehicles/vehicles.topic';
import { WebhookTargetsController } from './webhook-targets/webhook-targets.controller';
import { WebhookTargetsService } from './webhook-targets/webhook-targets.service';
import { WebhookTargetsTopic } from './webhook-targets/webhook-targets.topic';

/**
 * Global, so that feature modules (rules) inject the config, logger and Elasticsearch client without re-importing.
 * The guards apply to every route of every module, in order: rate limit, then authentication and role.
 */
@Module({})
export class ApiModule {
  static forConfig(config: ApiConfig, logger: Logger): DynamicModule {
    return {
      module: ApiModule,
      global: true,
      imports: [OpsModule.forApp('api'), DiscoveryModule, RulesModule, ReplaysModule],
      controllers: [
        ApiKeysController,
        AlertsController,
        WebhookTargetsController,
        VehiclesController,
        DocsController,
      ],
      providers: [
        { provide: APP_CONFIG, useValue: config },
        { provide: LOGGER, useValue: logger },
        { provide: APP_FILTER, useClass: ProblemFilter },
        { provide: APP_GUARD, useClass: RateLimitGuard },
        { provide: APP_GUARD, useClass: AuthGuard },
        ApiElasticsearch,
        ApiKeysRepository,
        ApiKeyAuthenticator,
        ApiKeysService,
        AlertsRepository,
        AcknowledgementsRepository,
        AlertsService,
        WebhookTargetsTopic,
        WebhookTargetsService,
        VehiclesTopic,
        VehiclesService,
      ],
      exports: [APP_CONFIG, LOGGER, ApiElasticsearch, VehiclesTopic, WebhookTargetsTopic],
    };
  }
}
