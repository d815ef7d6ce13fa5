import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { AddressInfo } from 'node:net';

/** Local servers for the health tests, on 127.0.0.1 port 0; `close` ends every connection. */
export interface TestServer {
  port: number;
  url: (path?: string) => string;
  /** Requests received so far. */
  requests: http.IncomingMessage[];
  close: () => Promise<void>;
}

export async function startHttpServer(
  handler: (req: http.IncomingMessage, res: http.ServerResponse) => void,
  tls?: { key: string; cert: string },
): Promise<TestServer> {
  const requests: http.IncomingMessage[] = [];
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    requests.push(req);
    handler(req, res);
  };
  const server = tls ? https.createServer(tls, onRequest) : http.createServer(onRequest);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const scheme = tls ? 'https' : 'http';
  return {
    port,
    url: (path = '/') => `${scheme}://127.0.0.1:${port}${path}`,
    requests,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

/** A TCP listener that accepts and holds connections; counts them. */
export async function startTcpServer(): Promise<{ port: number; accepted: () => number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  const server = net.createServer((s) => {
    accepted++;
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    accepted: () => accepted,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    }),
  };
}

/** A port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A self-signed certificate for 127.0.0.1 (valid until 2126), for the https checks. */
export const TEST_TLS = {
  key: `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQguU3eUsvpex5py+nv
EsivMxqkgnCpGqftUgDe9FxJAM+hRANCAAQZWX6XZxYoNvMLxKvUZb7tqaHBwJTb
Qms3SU6gvR0+qQ06fw06YRCHfHTlsWJENBj0KyEP68djz41jdXGfbjO2
-----END PRIVATE KEY-----
`,
  cert: `-----BEGIN CERTIFICATE-----
MIIBlDCCATqgAwIBAgIUG4nWfThKvFsr4LHEMJlSIjFCYkYwCgYIKoZIzj0EAwIw
FjEUMBIGA1UEAwwLbXVzdGVyLXRlc3QwIBcNMjYxMTI1MTIwOTAxWhgPMjEyNjEx
MDExMjA5MDFaMBYxFDASBgNVBAMMC211c3Rlci10ZXN0MFkwEwYHKoZIzj0CAQYI
KoZIzj0DAQcDQgAEGVl+l2cWKDbzC8Sr1GW+7amhwcCU20JrN0lOoL0dPqkNOn8N
OmEQh3x05bFiRDQY9CshD+vHY8+NY3Vxn24ztqNkMGIwHQYDVR0OBBYEFF+d5w2q
2yW/U4/+5wHnEsoT9CGeMB8GA1UdIwQYMBaAFF+d5w2q2yW/U4/+5wHnEsoT9CGe
MA8GA1UdEwEB/wQFMAMBAf8wDwYDVR0RBAgwBocEfwAAATAKBggqhkjOPQQDAgNI
ADBFAiEA4vplv3Hyn5/sFJpIdl/JVt34Tx0vTzb2FTSDiEyTbRMCIB4QFEIOiK58
btdrjCSqz0Ir0zDizZfJ4h+Sb3vzWQG1
-----END CERTIFICATE-----
`,
};
