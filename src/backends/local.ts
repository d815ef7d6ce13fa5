import type { Agent } from '../agent/agent.js';
import type { HealthStatus } from '../agent/definition.js';
import type { Registration } from '../docker/types.js';
import { isMusterError } from '../errors.js';
import type { Backend, RegisteredService } from './types.js';

/**
 * The sidecar embedded in an agent writes straight into that agent's local
 * state, as its own services. It does not wait for each catalog write:
 * anti-entropy batches them (200 containers at start cost a few syncs, not 200).
 */
export class LocalAgentBackend implements Backend {
  readonly name = 'local agent';

  constructor(private readonly agent: Agent) {}

  ping(): Promise<void> {
    return Promise.resolve();
  }

  async register(reg: Registration): Promise<void> {
    await this.agent.registerService(reg.service, { replaceExistingChecks: true, waitForSync: false });
  }

  async deregister(serviceId: string): Promise<void> {
    try {
      await this.agent.deregisterService(serviceId, { waitForSync: false });
    } catch (err) {
      if (isMusterError(err) && err.code === 'ERR_UNKNOWN_SERVICE') return;
      throw err;
    }
  }

  services(): Promise<RegisteredService[]> {
    return Promise.resolve(this.agent.services().map((s) => ({
      id: s.id, name: s.name, address: s.address, port: s.port, tags: [...s.tags], meta: { ...s.meta },
    })));
  }

  async updateCheck(checkId: string, status: HealthStatus, output: string): Promise<void> {
    await this.agent.updateTtlCheck(checkId, status, output);
  }
}
