import Docker from 'dockerode';
import { MusterError } from '../errors.js';

/** A Docker client for `unix:///path`, `tcp://host:port`, `http(s)://host:port`. */
export function dockerClient(endpoint: string): Docker {
  const u = new URL(endpoint);
  switch (u.protocol) {
    case 'unix:':
      return new Docker({ socketPath: u.pathname });
    case 'tcp:': case 'http:':
      return new Docker({ host: u.hostname, port: Number(u.port || 2375), protocol: 'http' });
    case 'https:':
      return new Docker({ host: u.hostname, port: Number(u.port || 2376), protocol: 'https' });
    default:
      throw new MusterError('ERR_CONFIG', `unsupported Docker endpoint: ${endpoint}`);
  }
}
