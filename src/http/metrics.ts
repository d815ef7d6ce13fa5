import type { Router } from './router.js';
import type { RouteDeps } from './context.js';
import { json } from './response.js';
import { renderConsulJson } from '../metrics/consul-json.js';
import { PROMETHEUS_CONTENT_TYPE, renderPrometheus } from '../metrics/prometheus.js';

/**
 * `/v1/agent/metrics`: this agent's metrics, answered locally on servers and
 * clients alike. Consul's JSON by default; `?format=prometheus` gives the
 * Prometheus text format 0.0.4 (as Consul, any other format value is JSON).
 */
export function register(router: Router, deps: RouteDeps): void {
  const metrics = deps.agent.metrics;
  router.add('GET', '/v1/agent/metrics', (req) => {
    const families = metrics.registry.collect();
    if (req.query.get('format') === 'prometheus') {
      return { status: 200, headers: { 'Content-Type': PROMETHEUS_CONTENT_TYPE }, body: renderPrometheus(families) };
    }
    return json(renderConsulJson(families, { nowMs: metrics.clock.now(), startedAtMs: metrics.startedAtMs }));
  });
}
