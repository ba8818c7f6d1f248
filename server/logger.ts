import { pino, type Logger } from 'pino';
import type { Config } from './config.ts';

/**
 * JSON logs on stdout, one object per line. Authorization headers and tokens
 * are never passed to the logger; the redaction below is a second fence.
 */
export type { Logger };

export function createLogger(level: Config['logLevel']): Logger {
  return pino({
    level,
    base: { service: 'dvx-server' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: ['authorization', 'token', '*.authorization', '*.token', 'headers.authorization', 'req.headers.authorization'], censor: '[redacted]' },
    formatters: { level: (label) => ({ level: label }) },
  });
}
