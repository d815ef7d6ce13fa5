/** The logger shape the RPC layer needs; a pino Logger fits. */
export interface RpcLogger {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

/** Drops every line (the default when no logger is given). */
export const silentRpcLogger: RpcLogger = { warn() {}, info() {}, debug() {} };
