import pino, { type Logger } from 'pino';

/**
 * JSON lines on stdout, one stream per process, named by app: what log shippers expect. A command whose stdout is
 * its output logs to `stderr` instead.
 */
export function createLogger(app: string, level: string, to: 'stdout' | 'stderr' = 'stdout'): Logger {
  const options = { name: app, level, base: { app, pid: process.pid } };
  return to === 'stdout' ? pino(options) : pino(options, pino.destination(2));
}

/** Injection token for the app's root pino logger. */
export const LOGGER = Symbol('Logger');
