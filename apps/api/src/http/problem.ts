import { STATUS_CODES } from 'node:http';
import { Catch, HttpException, Inject, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import { LOGGER } from '@fleetlog/observability';

/** An RFC 9457 problem: `extensions` add members beside title and detail (the validation errors, say). */
export class Problem extends HttpException {
  constructor(status: number, title: string, detail: string, extensions: Record<string, unknown> = {}) {
    super({ ...extensions, title, detail }, status);
  }
}

/**
 * Every error leaves the api as `application/problem+json`: our Problems as they are, Nest's own exceptions
 * (404 for an unknown route, a NotFoundException thrown by a controller) with their message as the detail, and
 * anything else as a 500 that says nothing about the internals but is logged in full.
 */
@Catch()
export class ProblemFilter implements ExceptionFilter {
  constructor(@Inject(LOGGER) private readonly logger: Logger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const request = host.switchToHttp().getRequest<Request>();
    const response = host.switchToHttp().getResponse<Response>();
    const status = exception instanceof HttpException ? exception.getStatus() : 500;
    const body = exception instanceof HttpException ? describe(exception) : { title: STATUS_CODES[500] };
    if (status >= 500) this.logger.error({ err: exception, path: request.path }, 'request failed');
    response
      .status(status)
      .type('application/problem+json')
      .json({ type: 'about:blank', status, ...body, instance: request.originalUrl });
  }
}

function describe(exception: HttpException): Record<string, unknown> {
  const answer = exception.getResponse();
  if (exception instanceof Problem) return answer as Record<string, unknown>;
  const message = typeof answer === 'object' ? (answer as { message?: unknown }).message : answer;
  return {
    title: STATUS_CODES[exception.getStatus()] ?? 'Error',
    detail: Array.isArray(message) ? message.join('; ') : String(message ?? exception.message),
  };
}
