import type { Logger } from '../log.js';
import type { Agent } from '../agent/agent.js';
import { DEFAULTS } from '../config/defaults.js';
import { DnsResponder } from './responder.js';
import { DnsServer } from './server.js';

export { DnsServer } from './server.js';

/** The agent's DNS interface on `-client`:`-dns-port`, reading through the agent's HealthReader. Not yet listening. */
export function createDnsServer(agent: Agent, log: Logger): DnsServer {
  const dnsLog = log.child({ component: 'dns' });
  const { config } = agent;
  const responder = new DnsResponder(
    { domain: config.domain, datacenter: config.datacenter, dns: config.dns },
    { reader: agent.healthReader, log: dnsLog },
  );
  return new DnsServer(
    { host: config.clientAddr, port: config.ports.dns, tcpIdleTimeoutMs: DEFAULTS.dns.tcpIdleTimeoutMs },
    { responder, log: dnsLog },
  );
}
