// The embedded sidecar's metrics against a real engine: starting a container
// moves the Docker-events, registrations and event-to-registration latency
// counts; removing it moves the deregistrations.
import t from 'tap';
import { removeContainer, requireDocker, runContainer, uniqueContainerName } from '../helpers/docker.js';
import { waitForService } from '../helpers/catalog.js';
import { HTTPD, startDockerAgent } from '../helpers/integration.js';
import { waitFor } from '../helpers/wait.js';
import { parsePrometheus, sampleValue, type PromFamily } from '../helpers/prometheus.js';

async function scrape(url: string): Promise<Map<string, PromFamily>> {
  const res = await fetch(`${url}/v1/agent/metrics?format=prometheus`);
  if (res.status !== 200) throw new Error(`metrics answered ${res.status}`);
  return parsePrometheus(await res.text());
}

/** Reads the metrics until `pred` holds (other tests' containers may move the counters too: never assert equality). */
function scrapeUntil(url: string, pred: (m: Map<string, PromFamily>) => boolean, message: string): Promise<Map<string, PromFamily>> {
  return waitFor(async () => { const m = await scrape(url); return pred(m) ? m : undefined; }, { timeoutMs: 20_000, intervalMs: 50, message });
}

t.test('a container start and removal move the sidecar counters', async (t) => {
  const docker = await requireDocker(t);
  if (!docker) return;
  const agent = await startDockerAgent(t);
  await agent.waitForLog((l) => l.msg === 'synced with docker', 20_000);
  const before = await scrapeUntil(agent.url, (m) => (sampleValue(m, 'muster_sidecar_reconcile_runs') ?? 0) >= 1, 'the first reconciliation counted');
  const v = (m: Map<string, PromFamily>, name: string, labels: Record<string, string> = {}) => sampleValue(m, name, labels) ?? 0;
  t.ok(v(before, 'muster_sidecar_reconcile_runs') >= 1, 'the start-up reconciliation');

  const name = uniqueContainerName('metrics');
  const container = await runContainer(t, docker, { name, cmd: HTTPD, publish: ['127.0.0.1::80'] });
  await waitForService(agent.url, agent.node, agent.serviceId(name, 80));

  const started = await scrapeUntil(agent.url, (m) => v(m, 'muster_sidecar_registration_latency_count') > v(before, 'muster_sidecar_registration_latency_count')
    && v(m, 'muster_sidecar_docker_events', { action: 'start' }) > v(before, 'muster_sidecar_docker_events', { action: 'start' }), 'the start counted');
  t.ok(v(started, 'muster_sidecar_docker_events', { action: 'start' }) > v(before, 'muster_sidecar_docker_events', { action: 'start' }), 'the start event was handled');
  t.ok(v(started, 'muster_sidecar_registrations') > v(before, 'muster_sidecar_registrations'), 'a registration');
  t.ok(v(started, 'muster_sidecar_registration_latency_count') > v(before, 'muster_sidecar_registration_latency_count'), 'its latency observed');
  t.equal(v(started, 'muster_sidecar_registration_latency_bucket', { le: '+Inf' }), v(started, 'muster_sidecar_registration_latency_count'), 'the +Inf bucket holds every observation');

  await removeContainer(container);
  const removed = await scrapeUntil(agent.url, (m) => v(m, 'muster_sidecar_deregistrations') > v(started, 'muster_sidecar_deregistrations'), 'the deregistration counted');
  t.ok(v(removed, 'muster_sidecar_deregistrations') > v(started, 'muster_sidecar_deregistrations'), 'a deregistration');
  t.ok(v(removed, 'muster_sidecar_docker_events', { action: 'die' }) + v(removed, 'muster_sidecar_docker_events', { action: 'destroy' })
    > v(started, 'muster_sidecar_docker_events', { action: 'die' }) + v(started, 'muster_sidecar_docker_events', { action: 'destroy' }), 'die or destroy handled');
});
