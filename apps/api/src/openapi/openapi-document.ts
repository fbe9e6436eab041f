import { RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA, ROUTE_ARGS_METADATA } from '@nestjs/common/constants';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum';
import { z } from 'zod';
import { PUBLIC_ROUTE, opsRoutes } from '../auth/public';
import { REQUIRED_ROLE, type ApiRole } from '../auth/require-role';
import { ZodValidationPipe } from '../http/zod-validation.pipe';
import { OPENAPI_OPERATION, type OperationDescription } from './operation';

type JsonSchema = Record<string, unknown>;
/** A controller class, as Nest's discovery hands it out. */
type Controller = { name: string; prototype: object };

interface RouteArgument {
  index: number;
  data?: string;
  pipes?: unknown[];
}

const problemSchema: JsonSchema = {
  type: 'object',
  required: ['type', 'title', 'status'],
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    instance: { type: 'string' },
    errors: {
      type: 'array',
      description: 'For 422: every invalid value, by request part and JSON Pointer.',
      items: {
        type: 'object',
        properties: { in: { type: 'string' }, path: { type: 'string' }, message: { type: 'string' } },
      },
    },
  },
};

const problem = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
});

/**
 * The OpenAPI 3.1 document of the given controllers, read from their Nest metadata: every route is listed, with the
 * inputs its ZodValidationPipes check (schemas by `z.toJSONSchema`), its required role, and what `@Operation` adds.
 */
export function buildOpenApiDocument(controllers: Controller[], info: { title: string; version: string }) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const controller of controllers) {
    for (const [methodName, handler] of handlersOf(controller)) {
      const method = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod;
      const path = joinPaths(
        Reflect.getMetadata(PATH_METADATA, controller),
        Reflect.getMetadata(PATH_METADATA, handler),
      );
      const verb = RequestMethod[method].toLowerCase();
      paths[toOpenApiPath(path)] = {
        ...paths[toOpenApiPath(path)],
        [verb]: describeOperation(controller, methodName, handler, path, verb),
      };
    }
  }
  return {
    openapi: '3.1.0',
    info,
    paths,
    components: {
      schemas: { Problem: problemSchema },
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'An API key: flk_...' },
        apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' },
      },
    },
  };
}

function describeOperation(
  controller: Controller,
  methodName: string,
  handler: object,
  path: string,
  verb: string,
): Record<string, unknown> {
  const description = Reflect.getMetadata(OPENAPI_OPERATION, handler) as OperationDescription | undefined;
  const isPublic =
    Boolean(Reflect.getMetadata(PUBLIC_ROUTE, handler) ?? Reflect.getMetadata(PUBLIC_ROUTE, controller)) ||
    opsRoutes.has(path);
  const role = (Reflect.getMetadata(REQUIRED_ROLE, handler) ??
    Reflect.getMetadata(REQUIRED_ROLE, controller) ??
    'viewer') as ApiRole;
  const { parameters, requestBody } = describeInputs(controller, methodName, path);
  const status = String(description?.status ?? (verb === 'post' ? 201 : 200));
  const responses: Record<string, unknown> = {
    [status]: {
      description: 'Success',
      ...(description?.response && {
        content: { 'application/json': { schema: toJsonSchema(description.response, 'output') } },
      }),
    },
    ...(requestBody || parameters.length > 0 ? { 422: problem('Invalid input') } : {}),
    ...(isPublic ? {} : { 401: problem('No valid API key'), 403: problem(`Needs the ${role} role`) }),
    429: problem('Rate limit exceeded; see Retry-After'),
  };
  return {
    operationId: `${controller.name.replace(/Controller$/, '')}.${methodName}`,
    tags: [controller.name.replace(/Controller$/, '')],
    ...(description && { summary: description.summary }),
    ...(isPublic
      ? { security: [] }
      : { security: [{ bearer: [] }, { apiKey: [] }], 'x-required-role': role }),
    ...(parameters.length > 0 && { parameters }),
    ...(requestBody && { requestBody }),
    responses,
  };
}

function describeInputs(controller: Controller, methodName: string, path: string) {
  // In the handler's parameter order: Nest records them last first (decorators of parameters run right to left).
  const routeArguments = Object.entries(
    (Reflect.getMetadata(ROUTE_ARGS_METADATA, controller, methodName) ?? {}) as Record<string, RouteArgument>,
  ).sort(([, a], [, b]) => a.index - b.index);
  const parameters: JsonSchema[] = [];
  let requestBody: JsonSchema | undefined;
  const pathNames = [...path.matchAll(/:(\w+)/g)].map((match) => match[1]!);
  const documentedPathNames = new Set<string>();
  for (const [key, argument] of routeArguments) {
    const type = Number(key.split(':')[0]);
    const schema = argument.pipes?.find((pipe) => pipe instanceof ZodValidationPipe)?.schema;
    if (type === RouteParamtypes.BODY && schema) {
      requestBody = {
        required: true,
        content: { 'application/json': { schema: toJsonSchema(schema, 'input') } },
      };
    } else if (type === RouteParamtypes.QUERY && schema && !argument.data) {
      parameters.push(...queryParameters(toJsonSchema(schema, 'input')));
    } else if ((type === RouteParamtypes.QUERY || type === RouteParamtypes.PARAM) && argument.data) {
      const location = type === RouteParamtypes.PARAM ? 'path' : 'query';
      if (location === 'path') documentedPathNames.add(argument.data);
      parameters.push({
        name: argument.data,
        in: location,
        required: location === 'path',
        schema: schema ? toJsonSchema(schema, 'input') : { type: 'string' },
      });
    }
  }
  for (const name of pathNames.filter((name) => !documentedPathNames.has(name))) {
    parameters.push({ name, in: 'path', required: true, schema: { type: 'string' } });
  }
  return { parameters, requestBody };
}

function queryParameters(objectSchema: JsonSchema): JsonSchema[] {
  const properties = (objectSchema.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((objectSchema.required ?? []) as string[]);
  return Object.entries(properties).map(([name, schema]) => ({
    name,
    in: 'query',
    required: required.has(name),
    ...(typeof schema.description === 'string' && { description: schema.description }),
    schema,
  }));
}

function toJsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const jsonSchema: JsonSchema = z.toJSONSchema(schema, { io, unrepresentable: 'any' });
  // The document's dialect (OpenAPI 3.1: JSON Schema 2020-12) applies; a per-schema $schema is noise.
  delete jsonSchema.$schema;
  return jsonSchema;
}

function handlersOf(controller: Controller): Array<[string, object]> {
  const prototype = controller.prototype as Record<string, unknown>;
  return Object.getOwnPropertyNames(prototype)
    .filter((name) => name !== 'constructor')
    .map((name) => [name, prototype[name]] as [string, unknown])
    .filter((entry): entry is [string, object] => typeof entry[1] === 'function')
    .filter(([, handler]) => Reflect.getMetadata(METHOD_METADATA, handler) !== undefined);
}

function joinPaths(...parts: Array<string | string[] | undefined>): string {
  const segments = parts
    .map((part) => (Array.isArray(part) ? part[0] : part) ?? '')
    .flatMap((part) => part.split('/'))
    .filter(Boolean);
  return `/${segments.join('/')}`;
}

function toOpenApiPath(path: string): string {
  return path.replace(/:(\w+)/g, '{$1}');
}
