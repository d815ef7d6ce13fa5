/**
 * Every error Muster raises is declared once here: a stable code, the HTTP
 * status it maps to, and a one-line message template. Code is the API; the
 * message may be improved. HTTP answers `status` with the message as plain
 * text (Consul's wording where Consul has one); the CLI prints
 * `muster: <message>` and exits non-zero.
 */
export const ERRORS = {
  ERR_BAD_REQUEST: { status: 400 },
  ERR_DECODE: { status: 400 },
  ERR_INVALID_WAIT: { status: 400 },
  ERR_INVALID_INDEX: { status: 400 },
  ERR_MISSING_SERVICE_NAME: { status: 400 },
  ERR_MISSING_CHECK_NAME: { status: 400 },
  ERR_MISSING_NODE_NAME: { status: 400 },
  ERR_INVALID_CHECK: { status: 400 },
  ERR_INVALID_CHECK_STATUS: { status: 400 },
  ERR_INVALID_SERVICE: { status: 400 },
  ERR_BODY_TOO_LARGE: { status: 413 },
  ERR_UNKNOWN_SERVICE: { status: 404 },
  ERR_UNKNOWN_CHECK: { status: 404 },
  ERR_NOT_TTL_CHECK: { status: 500 },
  ERR_NOT_FOUND: { status: 404 },
  ERR_METHOD_NOT_ALLOWED: { status: 405 },
  ERR_NO_LEADER: { status: 500 },
  ERR_UNKNOWN_DC: { status: 500 },
  ERR_MISSING_NODE: { status: 500 },
  ERR_INTERNAL: { status: 500 },
  ERR_CONFIG: { status: 500 },
  ERR_USAGE: { status: 500 },
  ERR_DOCKER: { status: 500 },
  ERR_BACKEND: { status: 500 },
  ERR_TEMPLATE: { status: 500 },
  ERR_ABORTED: { status: 500 },
  ERR_INVALID_SESSION: { status: 500 },
  ERR_MISSING_SESSION: { status: 500 },
  ERR_SESSION_NOT_FOUND: { status: 404 },
  ERR_SESSION_INVALID_INPUT: { status: 500 },
  ERR_MISSING_KEY: { status: 400 },
  ERR_CONFLICTING_FLAGS: { status: 400 },
  ERR_TXN_TOO_MANY: { status: 413 },
  ERR_TXN_ROLLED_BACK: { status: 409 },
  ERR_LOCK: { status: 500 },
  ERR_LOCK_CONFLICT: { status: 500 },
  ERR_LOCK_IN_USE: { status: 500 },
  ERR_KV_CAS_CONFLICT: { status: 409 },
  ERR_API: { status: 500 },
  ERR_UNREACHABLE: { status: 503 },
} as const satisfies Record<string, { status: number }>;

export type ErrorCode = keyof typeof ERRORS;

export class MusterError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  constructor(code: ErrorCode, message: string, options?: ErrorOptions & { status?: number }) {
    super(message, options);
    this.name = 'MusterError';
    this.code = code;
    this.status = options?.status ?? ERRORS[code].status;
  }
}

/** CLI usage problems: one line naming the flag, exit code 2 (as Go's flag package). */
export class UsageError extends MusterError {
  constructor(message: string) {
    super('ERR_USAGE', message);
    this.name = 'UsageError';
  }
}

export function isMusterError(err: unknown): err is MusterError {
  return err instanceof MusterError;
}

/** A one-line description of any thrown value, for logs and CLI output. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message.split('\n')[0] ?? err.message;
  return String(err);
}
