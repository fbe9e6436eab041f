import { SetMetadata, createParamDecorator, type ExecutionContext } from '@nestjs/common';

/** Each role can do everything the ones before it can. */
export const apiRoles = ['viewer', 'operator', 'admin'] as const;
export type ApiRole = (typeof apiRoles)[number];

/** Who is calling: the API key that authenticated the request. */
export interface ApiPrincipal {
  keyId: string;
  /** The key's name, as it appears in audit trails (`changedBy`, `acknowledgedBy`). */
  name: string;
  role: ApiRole;
}

export const REQUIRED_ROLE = 'fleetlog:required-role';

/** The least role a handler (or every handler of a controller) needs; the auth guard answers 401 or 403. */
export const RequireRole = (role: ApiRole) => SetMetadata(REQUIRED_ROLE, role);

/** The principal the auth guard put on the request. */
export const Principal = createParamDecorator(
  (_data: unknown, context: ExecutionContext): ApiPrincipal =>
    context.switchToHttp().getRequest<{ principal: ApiPrincipal }>().principal,
);
