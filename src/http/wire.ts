import { formatDuration } from '../config/duration.js';
import type { CheckRow, CheckRowDefinition, NodeRow, ServiceRow } from '../state/types.js';
import type { ServiceDefinition } from '../agent/definition.js';
import type { LocalCheck } from '../agent/local-state.js';
import { checkTypeOf } from '../agent/definition.js';

/** Rows and definitions in Consul's JSON shapes (field names and order as Consul emits them). */

export function nodeJson(n: NodeRow) {
  return {
    ID: n.id, Node: n.node, Address: n.address, Datacenter: n.datacenter,
    TaggedAddresses: { ...n.taggedAddresses }, Meta: { ...n.meta },
    CreateIndex: n.createIndex, ModifyIndex: n.modifyIndex,
  };
}

export function catalogServiceJson(n: NodeRow, s: ServiceRow) {
  return {
    ID: n.id, Node: n.node, Address: n.address, Datacenter: n.datacenter,
    TaggedAddresses: { ...n.taggedAddresses }, NodeMeta: { ...n.meta },
    ServiceKind: '', ServiceID: s.id, ServiceName: s.service, ServiceTags: [...s.tags],
    ServiceAddress: s.address, ServiceWeights: { Passing: s.weights.passing, Warning: s.weights.warning },
    ServiceMeta: { ...s.meta }, ServicePort: s.port, ServiceEnableTagOverride: s.enableTagOverride,
    ServiceProxy: {}, ServiceConnect: {}, ServiceTaggedAddresses: {},
    CreateIndex: s.createIndex, ModifyIndex: s.modifyIndex,
  };
}

/** The `Service` object of health answers and node listings. */
export function serviceJson(s: ServiceRow, datacenter: string) {
  return {
    ID: s.id, Service: s.service, Tags: [...s.tags], Address: s.address, Meta: { ...s.meta }, Port: s.port,
    Weights: { Passing: s.weights.passing, Warning: s.weights.warning }, EnableTagOverride: s.enableTagOverride,
    Datacenter: datacenter, CreateIndex: s.createIndex, ModifyIndex: s.modifyIndex,
  };
}

export function definitionJson(d: CheckRowDefinition): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (d.http !== undefined) out.HTTP = d.http;
  if (d.tcp !== undefined) out.TCP = d.tcp;
  if (d.intervalMs !== undefined) out.Interval = formatDuration(d.intervalMs);
  if (d.timeoutMs !== undefined) out.Timeout = formatDuration(d.timeoutMs);
  if (d.ttlMs !== undefined) out.TTL = formatDuration(d.ttlMs);
  if (d.deregisterCriticalServiceAfterMs !== undefined) {
    out.DeregisterCriticalServiceAfter = formatDuration(d.deregisterCriticalServiceAfterMs);
  }
  return out;
}

export function checkJson(c: CheckRow) {
  return {
    Node: c.node, CheckID: c.checkId, Name: c.name, Status: c.status, Notes: c.notes, Output: c.output,
    ServiceID: c.serviceId, ServiceName: c.serviceName, ServiceTags: [...c.serviceTags], Type: c.type,
    Definition: definitionJson(c.definition), CreateIndex: c.createIndex, ModifyIndex: c.modifyIndex,
  };
}

/** `/v1/agent/services` entries. */
export function agentServiceJson(s: ServiceDefinition, datacenter: string) {
  return {
    ID: s.id, Service: s.name, Tags: [...s.tags], Meta: { ...s.meta }, Port: s.port, Address: s.address,
    TaggedAddresses: {}, Weights: { Passing: s.weights.passing, Warning: s.weights.warning },
    EnableTagOverride: s.enableTagOverride, Datacenter: datacenter,
  };
}

/** `/v1/agent/checks` entries. */
export function agentCheckJson(c: LocalCheck, node: string, services: ReadonlyMap<string, ServiceDefinition>) {
  const svc = c.def.serviceId ? services.get(c.def.serviceId) : undefined;
  const def: CheckRowDefinition = {};
  if (c.def.http !== undefined) def.http = c.def.http;
  if (c.def.tcp !== undefined) def.tcp = c.def.tcp;
  if (c.def.intervalMs !== undefined) def.intervalMs = c.def.intervalMs;
  if (c.def.timeoutMs !== undefined) def.timeoutMs = c.def.timeoutMs;
  if (c.def.ttlMs !== undefined) def.ttlMs = c.def.ttlMs;
  if (c.def.deregisterCriticalServiceAfterMs !== undefined) def.deregisterCriticalServiceAfterMs = c.def.deregisterCriticalServiceAfterMs;
  return {
    Node: node, CheckID: c.def.checkId, Name: c.def.name, Status: c.status, Notes: c.def.notes ?? '',
    Output: c.output, ServiceID: c.def.serviceId, ServiceName: svc?.name ?? '', ServiceTags: svc ? [...svc.tags] : [],
    Type: checkTypeOf(c.def), Definition: definitionJson(def), CreateIndex: 0, ModifyIndex: 0,
  };
}
