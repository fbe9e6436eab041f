import { SetMetadata } from '@nestjs/common';
import type { Request } from 'express';

export const PUBLIC_ROUTE = 'fleetlog:public-route';

/** The handler (or every handler of the controller) answers without an API key. */
export const Public = () => SetMetadata(PUBLIC_ROUTE, true);

/**
 * The routes of OpsModule (libs/observability), shared by every service and so without our metadata: probes and
 * scrapers carry no API key.
 */
export const opsRoutes: ReadonlySet<string> = new Set(['/health', '/health/live', '/metrics']);

/** By the route the request matched, not its URL, which may spell the same path many ways. */
export function isOpsRoute(request: Request): boolean {
  return opsRoutes.has((request.route as { path?: string } | undefined)?.path ?? '');
}
