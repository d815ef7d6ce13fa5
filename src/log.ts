import { pino, destination, type Logger, type DestinationStream } from 'pino';

export type { Logger } from 'pino';

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

/** Consul's level names mapped onto pino's. */
export function normaliseLevel(level: string): LogLevel | undefined {
  const l = level.trim().toLowerCase();
  switch (l) {
    case 'trace': case 'debug': case 'info': case 'warn': case 'error': case 'fatal': case 'silent':
      return l;
    case 'err': return 'error';
    case 'warning': return 'warn';
    case 'off': return 'silent';
    default: return undefined;
  }
}

export interface LoggerOptions {
  level: LogLevel;
  /** Defaults to stdout, synchronously, so a crash loses no line. */
  destination?: DestinationStream;
  bindings?: Record<string, unknown>;
}

export function createLogger(opts: LoggerOptions): Logger {
  const dest = opts.destination ?? destination({ dest: 1, sync: true });
  const log = pino({ level: opts.level, base: { pid: process.pid }, messageKey: 'msg', errorKey: 'err' }, dest);
  return opts.bindings ? log.child(opts.bindings) : log;
}

/** A logger that drops everything, for unit tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
