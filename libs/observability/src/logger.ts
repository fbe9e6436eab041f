import pino, { type Logger } from 'pino';

/** JSON lines on stdout, one stream per process, named by app: what log shippers expect. */
export function createLogger(app: string, level: string): Logger {
  return pino({ name: app, level, base: { app, pid: process.pid } });
}

/** Injection token for the app's root pino logger. */
export const LOGGER = Symbol('Logger');
