/**
 * Structured logging. Loggers are created once at process start and passed down;
 * units of work take `logger.child({ capsuleId, hostId, requestId })`.
 */
import { pino, type Logger, type LoggerOptions, type DestinationStream } from 'pino';

export type { Logger };

const REDACT_PATHS = [
  'accessToken',
  'token',
  'password',
  '*.accessToken',
  '*.token',
  '*.password',
  'req.headers.authorization',
  'req.headers["x-access-token"]',
  'req.headers["x-api-key"]',
];

export function createLogger(
  opts: { name: string; level?: string; base?: Record<string, unknown> },
  destination?: DestinationStream,
): Logger {
  const options: LoggerOptions = {
    name: opts.name,
    level: opts.level ?? 'info',
    base: { ...(opts.base ?? {}) },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return destination ? pino(options, destination) : pino(options);
}

/** A logger that drops everything; for tests and benchmarks that measure other things. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
