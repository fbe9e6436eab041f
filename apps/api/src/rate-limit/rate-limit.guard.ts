import {
  Inject,
  Injectable,
  type CanActivate,
  type ExecutionContext,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { Request, Response } from 'express';
import { APP_CONFIG, type ApiConfig } from '@fleetlog/config';
import { ApiKeyAuthenticator } from '../auth/api-key-authenticator';
import { isOpsRoute } from '../auth/public';
import { Problem } from '../http/problem';
import { TokenBuckets } from './token-buckets';

/**
 * Global, before the auth guard: a token bucket per API key, and per client address for requests without a valid
 * key, so that guessing keys is throttled too. Probes and scrapers (/health, /metrics) are not limited. In memory,
 * per instance: behind N instances a caller gets N times the rate.
 */
@Injectable()
export class RateLimitGuard implements CanActivate, OnApplicationShutdown {
  private readonly buckets: TokenBuckets;
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    @Inject(APP_CONFIG) config: ApiConfig,
    private readonly authenticator: ApiKeyAuthenticator,
  ) {
    this.buckets = new TokenBuckets({
      ratePerSecond: config.API_RATE_LIMIT_PER_SECOND,
      burst: config.API_RATE_LIMIT_BURST,
    });
    this.sweeper = setInterval(() => this.buckets.sweep(Date.now()), 60_000).unref();
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<Request>();
    if (isOpsRoute(request)) return true;
    const authentication = await this.authenticator.authenticate(request);
    const caller =
      authentication.outcome === 'authenticated'
        ? `key:${authentication.principal.keyId}`
        : `address:${request.ip}`;
    const admission = this.buckets.take(caller, Date.now());
    if (admission.admitted) return true;
    context
      .switchToHttp()
      .getResponse<Response>()
      .setHeader('Retry-After', String(admission.retryAfterSeconds));
    throw new Problem(
      429,
      'Too Many Requests',
      `Rate limit exceeded; retry in ${admission.retryAfterSeconds} s.`,
    );
  }

  onApplicationShutdown(): void {
    clearInterval(this.sweeper);
  }
}
