import { Inject, Injectable } from '@nestjs/common';
import type { Request } from 'express';
import { APP_CONFIG, type ApiConfig } from '@fleetlog/config';
import { hashApiKey, sameKey } from './api-key';
import { ApiKeysRepository } from './api-keys.repository';
import { ExpiringCache } from './expiring-cache';
import type { ApiPrincipal } from './require-role';

/** Who API_ADMIN_KEY authenticates: not a stored key, so it cannot be listed or revoked, only unset. */
export const bootstrapAdmin: ApiPrincipal = { keyId: 'bootstrap', name: 'bootstrap-admin', role: 'admin' };

export type Authentication =
  { outcome: 'authenticated'; principal: ApiPrincipal } | { outcome: 'missing' } | { outcome: 'rejected' };

/**
 * Resolves the key a request presents (`Authorization: Bearer <key>` or `x-api-key`) to its principal, once per
 * request: the rate limiter and the auth guard both ask. Lookups, misses included, are cached for
 * API_KEY_CACHE_TTL_MS, which bounds how long a revocation on another instance takes to apply.
 */
@Injectable()
export class ApiKeyAuthenticator {
  private readonly lookups: ExpiringCache<string, ApiPrincipal | undefined>;
  private readonly byRequest = new WeakMap<Request, Promise<Authentication>>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: ApiConfig,
    private readonly keys: ApiKeysRepository,
  ) {
    this.lookups = new ExpiringCache(config.API_KEY_CACHE_TTL_MS, 10_000);
  }

  authenticate(request: Request): Promise<Authentication> {
    let authentication = this.byRequest.get(request);
    if (!authentication) {
      authentication = this.resolve(presentedKey(request));
      this.byRequest.set(request, authentication);
    }
    return authentication;
  }

  /** Drops a key's cached lookup: a key revoked here stops working here at once. */
  forget(hash: string): void {
    this.lookups.delete(hash);
  }

  private async resolve(key: string | undefined): Promise<Authentication> {
    if (!key) return { outcome: 'missing' };
    if (this.config.API_ADMIN_KEY && sameKey(key, this.config.API_ADMIN_KEY)) {
      return { outcome: 'authenticated', principal: bootstrapAdmin };
    }
    const hash = hashApiKey(key);
    let cached = this.lookups.get(hash);
    if (!cached) {
      const record = await this.keys.findByHash(hash);
      cached = {
        value:
          record && !record.revokedAt
            ? { keyId: record.id, name: record.name, role: record.role }
            : undefined,
      };
      this.lookups.set(hash, cached.value);
    }
    return cached.value ? { outcome: 'authenticated', principal: cached.value } : { outcome: 'rejected' };
  }
}

function presentedKey(request: Request): string | undefined {
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '')?.[1];
  const header = request.headers['x-api-key'];
  return bearer ?? (typeof header === 'string' && header.length > 0 ? header : undefined);
}
