import 'reflect-metadata';
import { Body, Controller, Get, Param, Post, Query } from '@nestjs/common';
import { z } from 'zod';
import { Public } from '../auth/public';
import { Principal, RequireRole, type ApiPrincipal } from '../auth/require-role';
import { ZodValidationPipe } from '../http/zod-validation.pipe';
import { buildOpenApiDocument } from './openapi-document';
import { Operation } from './operation';

const searchSchema = z.strictObject({
  fleetId: z.string().optional(),
  limit: z.coerce.number().int().default(10),
});
const bodySchema = z.strictObject({ name: z.string(), speedKph: z.number().min(0) });

@Controller('vehicles')
class VehiclesController {
  @Get()
  @Operation({ summary: 'Search vehicles', response: z.array(z.object({ id: z.string() })) })
  search(@Query(new ZodValidationPipe(searchSchema)) query: unknown) {
    return query;
  }

  @Post(':id/notes')
  @RequireRole('operator')
  note(
    @Param('id') id: string,
    @Body(new ZodValidationPipe(bodySchema)) body: unknown,
    @Principal() principal: ApiPrincipal,
  ) {
    return { id, body, principal };
  }
}

@Controller('status')
@Public()
class StatusController {
  @Get()
  status() {
    return 'ok';
  }
}

describe('buildOpenApiDocument', () => {
  const document = buildOpenApiDocument([VehiclesController, StatusController], { title: 't', version: '1' });
  const paths = document.paths as Record<string, Record<string, Record<string, unknown>>>;

  it('lists every route under its OpenAPI path, undecorated ones included', () => {
    expect(Object.keys(paths).sort()).toEqual(['/status', '/vehicles', '/vehicles/{id}/notes']);
    expect(Object.keys(paths['/vehicles/{id}/notes']!)).toEqual(['post']);
  });

  it('turns a validated query object into one parameter per property, from its zod schema', () => {
    expect(paths['/vehicles']!.get!.parameters).toEqual([
      { name: 'fleetId', in: 'query', required: false, schema: { type: 'string' } },
      { name: 'limit', in: 'query', required: false, schema: expect.objectContaining({ type: 'integer' }) },
    ]);
    expect(paths['/vehicles']!.get!.responses).toMatchObject({
      200: { content: { 'application/json': { schema: { type: 'array' } } } },
      401: {},
      422: {},
      429: {},
    });
  });

  it('documents the body schema, path parameters and the role a handler requires', () => {
    const note = paths['/vehicles/{id}/notes']!.post!;
    expect(note).toMatchObject({
      'x-required-role': 'operator',
      security: [{ bearer: [] }, { apiKey: [] }],
      parameters: [{ name: 'id', in: 'path', required: true }],
      requestBody: {
        content: {
          'application/json': {
            schema: { type: 'object', required: ['name', 'speedKph'], additionalProperties: false },
          },
        },
      },
      responses: { 201: {}, 403: {} },
    });
    expect(JSON.stringify(note)).not.toContain('$schema');
  });

  it('lists path parameters in the order the handler declares them', () => {
    @Controller('fleets')
    class FleetsController {
      @Get(':fleetId/vehicles/:vehicleId')
      vehicle(
        @Param('fleetId', new ZodValidationPipe(z.string().max(64))) fleetId: string,
        @Param('vehicleId') vehicleId: string,
      ) {
        return { fleetId, vehicleId };
      }
    }
    const fleets = buildOpenApiDocument([FleetsController], { title: 't', version: '1' }).paths as Record<
      string,
      Record<string, { parameters: Array<{ name: string }> }>
    >;
    const parameters = fleets['/fleets/{fleetId}/vehicles/{vehicleId}']!.get!.parameters;
    expect(parameters.map((parameter) => parameter.name)).toEqual(['fleetId', 'vehicleId']);
  });

  it('marks public routes as needing no key and a viewer as the least role of the others', () => {
    expect(paths['/status']!.get).toMatchObject({ security: [] });
    expect(paths['/status']!.get!.responses).not.toHaveProperty('401');
    expect(paths['/vehicles']!.get!['x-required-role']).toBe('viewer');
  });
});
