// Shared pieces of the integration tests (test/integration/): an agent whose
// embedded sidecar watches the test engine under a host name of its own, and
// the commands the test containers run.
import type { Test } from 'tap';
import { startAgent, type RunningAgent } from './agent.js';
import { uniqueHostname } from './catalog.js';
import { dockerSocketPath } from './docker.js';

/** busybox httpd in the foreground, serving /www (index.html = "hello", health = "ok"). */
export const HTTPD = ['httpd', '-f', '-p', '80', '-h', '/www'];

/**
 * httpd in the background with its pid in /tmp/pid, and the container kept up
 * after it stops: `kill $(cat /tmp/pid)` stops the server, not the container.
 */
export const HTTPD_KILLABLE = ['sh', '-c', 'httpd -f -p 80 -h /www & echo $! >/tmp/pid; wait; exec sleep 3600'];

/**
 * Idles until told how to end: SIGTERM (docker stop) exits 0, SIGUSR1 exits 1,
 * SIGUSR2 exits 0, SIGKILL gives 137. (PID 1 only gets the signals it traps.)
 */
export const IDLE = ['sh', '-c', 'trap "exit 0" TERM USR2; trap "exit 1" USR1; while :; do sleep 1 & wait $!; done'];

/** The default service name of a TEST_IMAGE container: the image's basename. */
export const IMAGE_SERVICE_NAME = 'muster-test-busybox';

export interface DockerAgent extends RunningAgent {
  /** The `-hostname` the sidecar puts in service IDs and owner marks. */
  hostname: string;
  /** `hostname:container:port[:udp]`, registrator's service ID. */
  serviceId(container: string, port: number, protocol?: 'tcp' | 'udp'): string;
}

/**
 * A dev agent whose sidecar watches the test engine, with a unique `-hostname`
 * (so the IDs it makes are predictable and no other test's agent makes the same)
 * plus `args` (sidecar flags such as `-internal`). Resolves once the sidecar
 * follows the engine's events, so every container started afterwards reaches
 * it as a `start` event.
 */
export async function startDockerAgent(t: Test, args: string[] = [], hostname = uniqueHostname()): Promise<DockerAgent> {
  const agent = await startAgent(t, { args: ['-hostname', hostname, '-docker', `unix://${dockerSocketPath()}`, ...args] });
  await agent.waitForLog((l) => l.msg === 'listening for docker events', 20_000);
  return {
    ...agent,
    hostname,
    serviceId: (container, port, protocol = 'tcp') => `${hostname}:${container}:${port}${protocol === 'udp' ? ':udp' : ''}`,
  };
}

/** The short (12-character) container ID the sidecar logs. */
export function shortId(id: string): string {
  return id.slice(0, 12);
}
