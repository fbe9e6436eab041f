import { NestFactory } from '@nestjs/core';
import type { DynamicModule, LoggerService } from '@nestjs/common';
import type { Logger } from 'pino';

/** Nest's own messages (routes mapped, lifecycle errors) go to the same structured log as ours. */
class PinoNestLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}
  log(message: unknown, context?: string) {
    this.logger.info({ context }, String(message));
  }
  error(message: unknown, trace?: string, context?: string) {
    this.logger.error({ context, trace }, String(message));
  }
  warn(message: unknown, context?: string) {
    this.logger.warn({ context }, String(message));
  }
  debug(message: unknown, context?: string) {
    this.logger.debug({ context }, String(message));
  }
  verbose(message: unknown, context?: string) {
    this.logger.trace({ context }, String(message));
  }
}

/**
 * Starts a service: the Nest app and its HTTP endpoints for health and metrics. SIGTERM or SIGINT closes the app,
 * which runs every shutdown hook (drain in-flight messages, commit, disconnect), then exits 0; Nest's own
 * shutdown hooks would re-raise the signal instead, which hides whether the drain completed. A failure to start or
 * to stop is logged as one structured line and exits non-zero.
 */
export async function runService(
  module: DynamicModule,
  logger: Logger,
  http: { host: string; port: number },
): Promise<void> {
  try {
    const app = await NestFactory.create(module, { logger: new PinoNestLogger(logger) });
    await app.listen(http.port, http.host);
    logger.info({ http: `http://${http.host}:${http.port}` }, 'started');
    const stop = (signal: NodeJS.Signals) => {
      logger.info({ signal }, 'stopping');
      app.close().then(
        () => {
          logger.info('stopped');
          process.exit(0);
        },
        (error: unknown) => {
          logger.fatal({ err: error }, 'failed to stop cleanly');
          process.exit(1);
        },
      );
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  } catch (error) {
    logger.fatal({ err: error }, 'failed to start');
    process.exitCode = 1;
    setTimeout(() => process.exit(1), 100).unref();
  }
}

/**
 * For a part that cannot recover in-process (a Kafka consumer stopped for good, a call that never returns): logs why
 * and ends the process, for its supervisor (compose's restart policy, systemd, Kubernetes) to start it afresh from
 * the committed offsets. Staying up would look healthy and do nothing.
 */
export function exitForRestart(logger: Logger, what: string): (reason: Error) => void {
  return (reason) => {
    logger.fatal({ err: reason }, `${what}; exiting to be restarted`);
    process.exit(1);
  };
}
