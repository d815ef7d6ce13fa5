import type { Agent } from '../agent/agent.js';
import type { AgentConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import { LocalAgentBackend } from '../backends/local.js';
import { dockerClient } from './client.js';
import { Sidecar } from './sidecar.js';
import { compileTagTemplate } from './template.js';

/** Starts the sidecar inside an agent, writing into the agent's own local state. */
export async function startEmbeddedSidecar(agent: Agent, config: AgentConfig, log: Logger, signal: AbortSignal): Promise<Sidecar> {
  if (config.sidecar.tags) compileTagTemplate(config.sidecar.tags); // a bad -tags template stops the start, as registrator
  const endpoint = config.docker as string;
  const docker = dockerClient(endpoint);
  try {
    await docker.ping();
  } catch {
    log.warn({ docker: endpoint }, 'docker is not reachable; the sidecar will keep trying to connect');
  }
  const sidecar = new Sidecar(config.sidecar, { docker, backend: new LocalAgentBackend(agent), log, observer: agent.metrics.sidecar }, signal);
  sidecar.start();
  return sidecar;
}
