import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request, Response } from 'express';
import { Problem } from '../http/problem';
import { roleAtLeast } from './api-key';
import { ApiKeyAuthenticator } from './api-key-authenticator';
import { PUBLIC_ROUTE, isOpsRoute } from './public';
import { REQUIRED_ROLE, type ApiPrincipal, type ApiRole } from './require-role';

export type AuthenticatedRequest = Request & { principal?: ApiPrincipal };

/**
 * Global: every route needs at least a viewer's key unless it is public. Puts the principal on `request.principal`
 * (read with `@Principal()`); answers 401 for a missing, unknown or revoked key and 403 for a role too low for
 * `@RequireRole`.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly authenticator: ApiKeyAuthenticator,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, targets)) return true;
    if (isOpsRoute(request)) return true;
    const authentication = await this.authenticator.authenticate(request);
    if (authentication.outcome !== 'authenticated') {
      const missing = authentication.outcome === 'missing';
      // RFC 6750: an error code only when credentials were presented.
      const challenge = missing
        ? 'Bearer realm="fleetlog"'
        : 'Bearer realm="fleetlog", error="invalid_token"';
      context.switchToHttp().getResponse<Response>().setHeader('WWW-Authenticate', challenge);
      throw new Problem(
        401,
        'Unauthorized',
        missing
          ? 'An API key is required: send it as "Authorization: Bearer <key>" or "x-api-key: <key>".'
          : 'The API key is unknown or revoked.',
      );
    }
    const { principal } = authentication;
    const required = this.reflector.getAllAndOverride<ApiRole>(REQUIRED_ROLE, targets) ?? 'viewer';
    if (!roleAtLeast(principal.role, required)) {
      throw new Problem(
        403,
        'Forbidden',
        `This needs the ${required} role; the key "${principal.name}" is a ${principal.role}.`,
      );
    }
    request.principal = principal;
    return true;
  }
}
