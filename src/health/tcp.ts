import net from 'node:net';
import type { CheckDefinition } from '../agent/definition.js';
import { systemTimers, type Timers } from '../time.js';
import { CheckLimits, type CheckResult } from './check.js';
import { describeDialError } from './net-error.js';

/** One TCP check, with Consul's defaults filled in. */
export interface TcpCheckConfig {
  /** `host:port` as given (`[::1]:80` for IPv6). */
  address: string;
  timeoutMs: number;
}

export function tcpCheckConfig(def: CheckDefinition & { tcp: string }): TcpCheckConfig {
  return {
    address: def.tcp,
    timeoutMs: def.timeoutMs !== undefined && def.timeoutMs > 0 ? def.timeoutMs : CheckLimits.defaultTimeoutMs,
  };
}

/** Splits `host:port` / `[v6]:port`; undefined when malformed. */
export function parseHostPort(address: string): { host: string; port: number } | undefined {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(address) ?? /^([^:]+):(\d+)$/.exec(address);
  const host = m?.[1];
  const port = Number(m?.[2]);
  if (host === undefined || !Number.isInteger(port) || port < 0 || port > 65535) return undefined;
  return { host, port };
}

/**
 * Connects once, then closes. Never rejects: a connect → passing
 * (`TCP connect host:port: Success`), anything else → critical with Go's
 * wording of the dial error. Aborting `signal` cancels the attempt.
 */
export function runTcpCheck(
  cfg: TcpCheckConfig,
  opts: { signal?: AbortSignal; timers?: Timers } = {},
): Promise<CheckResult> {
  const target = parseHostPort(cfg.address);
  if (target === undefined) {
    return Promise.resolve({ status: 'critical', output: `dial tcp ${cfg.address}: address ${cfg.address}: missing port or bad host` });
  }
  const outer = opts.signal;
  if (outer?.aborted) return Promise.resolve({ status: 'critical', output: `dial tcp ${cfg.address}: check stopped` });
  const timers = opts.timers ?? systemTimers;

  return new Promise<CheckResult>((resolve) => {
    let settled = false;
    let timer: unknown;
    const socket = net.connect({ host: target.host, port: target.port });
    const finish = (result: CheckResult): void => {
      if (settled) return;
      settled = true;
      timers.clearTimeout(timer);
      outer?.removeEventListener('abort', onOuterAbort);
      socket.destroy();
      resolve(result);
    };
    const critical = (why: string): void => finish({ status: 'critical', output: `dial tcp ${cfg.address}: ${why}` });
    const onOuterAbort = (): void => critical('check stopped');
    outer?.addEventListener('abort', onOuterAbort, { once: true });
    timer = timers.setTimeout(() => critical('i/o timeout'), cfg.timeoutMs);

    socket.once('connect', () => finish({ status: 'passing', output: `TCP connect ${cfg.address}: Success` }));
    socket.once('error', (err) => finish({ status: 'critical', output: describeDialError(err, cfg.address) }));
  });
}
