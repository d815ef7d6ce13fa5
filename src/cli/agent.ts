import { writeFileSync, rmSync } from 'node:fs';
import { loadAgentConfig } from '../config/load.js';
import { AGENT_FLAGS } from '../config/agent-flags.js';
import { formatFlagHelp } from '../config/flags.js';
import { createLogger, normaliseLevel } from '../log.js';
import { Agent } from '../agent/agent.js';
import { HttpApi } from '../http/server.js';
import { HttpForwarding } from '../agent/http-forwarding.js';
import { startEmbeddedSidecar } from '../docker/embedded.js';
import { createDnsServer } from '../dns/index.js';
import { errorMessage } from '../errors.js';
import { VERSION } from '../version.js';
import { DEFAULTS } from '../config/defaults.js';

/** `muster agent`: runs until SIGINT/SIGTERM, then stops each part in reverse start order. */
export async function runAgent(argv: string[]): Promise<number> {
  const { config, help } = loadAgentConfig(argv);
  if (help) {
    process.stdout.write(`Usage: muster agent [flags]\n\n${formatFlagHelp(AGENT_FLAGS)}\n`);
    return 0;
  }
  const log = createLogger({ level: normaliseLevel(config.logLevel) ?? 'info' });
  log.info({ version: VERSION, node: config.nodeName, datacenter: config.datacenter, server: config.server, dev: config.dev, advertise: config.advertiseAddr, docker: config.docker ?? null }, 'starting agent');
  if (config.pidFile) writeFileSync(config.pidFile, `${process.pid}\n`);

  const shutdown = new AbortController();
  let exitCodeOf = () => 0;
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) {
      try { await stop(); } catch (err) { log.warn({ err: errorMessage(err) }, 'error while stopping'); }
    }
    if (config.pidFile) rmSync(config.pidFile, { force: true });
  };
  // Consul's leave_on_terminate / skip_leave_on_interrupt: whether this signal makes a graceful leave first
  let leaveFirst = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (shutdown.signal.aborted) return;
    leaveFirst = signal === 'SIGTERM' ? config.leaveOnTerminate : !config.skipLeaveOnInterrupt;
    log.info({ signal, leave: leaveFirst }, 'shutting down');
    shutdown.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    let exitCode = 0;
    const agent = new Agent(config, {
      log,
      requestShutdown: (reason, code) => {
        exitCode = code;
        log.info({ reason }, 'stopping');
        shutdown.abort();
      },
    });
    exitCodeOf = () => exitCode;
    await agent.start();
    stops.push(() => agent.stop());
    // stops run in reverse: after the sidecar and the HTTP API, before the agent closes its ports
    // A server's leave is two steps of up to leaveTimeoutMs each (raft, then gossip): bounded as a
    // whole, so `docker stop` (10 s before SIGKILL) still sees the process exit 0 by itself.
    stops.push(async () => { if (leaveFirst) await withinMs(agent.leaveGracefully().catch((err: unknown) => log.warn({ err: errorMessage(err) }, 'graceful leave failed')), DEFAULTS.leaveTimeoutMs, () => log.warn('graceful leave not finished in time; stopping')); });

    const http = new HttpApi(agent, log, { host: config.clientAddr, port: config.ports.http, forwarding: new HttpForwarding(agent, agent.rpc) });
    agent.serveHttpOverRpc((body, signal) => http.serveForwarded(body, signal));
    const addr = await http.listen();
    stops.push(() => http.close());
    log.info({ addr: `${addr.address}:${addr.port}` }, 'http api listening');

    if (config.ports.dns >= 0) {
      const dns = createDnsServer(agent, log);
      const dnsAddr = await dns.listen();
      stops.push(() => dns.close());
      log.info({ addr: `${dnsAddr.address}:${dnsAddr.port}` }, 'dns listening');
    }

    if (config.docker) {
      const sidecar = await startEmbeddedSidecar(agent, config, log, shutdown.signal);
      stops.push(() => sidecar.stop());
    } else if (config.dockerExplicit) {
      log.info('sidecar off (-docker "")');
    } else {
      log.warn({ socket: DEFAULTS.dockerSockets.join(' ') }, 'no Docker socket found; the sidecar is off (use -docker to name an endpoint)');
    }
    log.info('agent running');
    await new Promise<void>((resolve) => shutdown.signal.addEventListener('abort', () => resolve(), { once: true }));
  } catch (err) {
    log.error({ err: errorMessage(err) }, 'agent failed');
    await stopAll();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    throw err;
  }
  // the handlers stay while stopping: a second signal must not cut the shutdown short
  await stopAll();
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  log.info('agent stopped');
  return exitCodeOf();
}

/** Waits for `p` (which must not reject), or `ms` at most (then calls `late` and resolves; `p` is left to finish on its own). */
async function withinMs(p: Promise<void>, ms: number, late: () => void): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<void>((resolve) => { timer = setTimeout(() => { late(); resolve(); }, ms); });
  try {
    await Promise.race([p, expired]);
  } finally {
    clearTimeout(timer);
  }
}
