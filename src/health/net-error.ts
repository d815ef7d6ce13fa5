/**
 * Socket errors described the way Go's net package words them, so check
 * output reads like Consul's (`dial tcp 127.0.0.1:1: connect: connection refused`).
 */

interface SystemErrorLike {
  code?: unknown;
  syscall?: unknown;
  address?: unknown;
  port?: unknown;
  hostname?: unknown;
  message?: unknown;
}

const GO_WORDING: Record<string, string> = {
  ECONNREFUSED: 'connect: connection refused',
  EHOSTUNREACH: 'connect: no route to host',
  ENETUNREACH: 'connect: network is unreachable',
  ETIMEDOUT: 'i/o timeout',
  ECONNRESET: 'connection reset by peer',
  EADDRNOTAVAIL: 'connect: cannot assign requested address',
};

/** One line describing a failed dial to `target` (`host:port`). */
export function describeDialError(err: unknown, target: string): string {
  const e = (typeof err === 'object' && err !== null ? err : {}) as SystemErrorLike;
  const code = typeof e.code === 'string' ? e.code : '';
  const message = typeof e.message === 'string' ? e.message : String(err);
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    const host = typeof e.hostname === 'string' ? e.hostname : target;
    return `dial tcp: lookup ${host}: ${code === 'ENOTFOUND' ? 'no such host' : 'temporary failure in name resolution'}`;
  }
  const wording = GO_WORDING[code];
  if (wording !== undefined) {
    const addr = typeof e.address === 'string' && typeof e.port === 'number'
      ? formatHostPort(e.address, e.port)
      : target;
    return `dial tcp ${addr}: ${wording}`;
  }
  if (code.includes('CERT') || code.includes('SELF_SIGNED') || code.startsWith('ERR_TLS') || code.startsWith('ERR_SSL')) {
    return `tls: failed to verify certificate: ${message}`;
  }
  return code !== '' && !message.includes(code) ? `${message} (${code})` : message;
}

export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
