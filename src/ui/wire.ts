/** The Consul JSON shapes the UI reads (only the fields it shows). */

export interface ServiceSummary {
  Name: string;
  Tags: string[];
  Nodes: string[];
  InstanceCount: number;
  ChecksPassing: number;
  ChecksWarning: number;
  ChecksCritical: number;
}

export interface Check {
  Node: string;
  CheckID: string;
  Name: string;
  Status: string;
  Notes: string;
  Output: string;
  ServiceID: string;
  ServiceName: string;
  Type: string;
}

export interface NodeInfo {
  ID: string;
  Node: string;
  Address: string;
  Datacenter: string;
  Meta: Record<string, string>;
}

export interface Service {
  ID: string;
  Service: string;
  Tags: string[];
  Address: string;
  Port: number;
  Meta: Record<string, string>;
}

/** `/v1/health/service/:name` entries. */
export interface ServiceEntry {
  Node: NodeInfo;
  Service: Service;
  Checks: Check[];
}

/** `/v1/internal/ui/nodes` entries. */
export interface NodeDump extends NodeInfo {
  Services: Service[];
  Checks: Check[];
}

export interface Member {
  Name: string;
  Addr: string;
  Port: number;
  Tags: Record<string, string>;
  Status: number;
}

/** `/v1/kv/:key` entries. */
export interface KvEntry {
  Key: string;
  /** base64, or null for an empty value. */
  Value: string | null;
  Flags: number;
  CreateIndex: number;
  ModifyIndex: number;
  LockIndex: number;
  Session?: string;
}

/** Serf's member status numbers, as /v1/agent/members reports them. */
export function memberStatus(status: number): string {
  switch (status) {
    case 1: return 'alive';
    case 2: return 'leaving';
    case 3: return 'left';
    case 4: return 'failed';
    default: return 'none';
  }
}

/** The worst status of a list of checks: critical > warning > passing (no checks: passing). */
export function worstStatus(statuses: Iterable<string>): string {
  let worst = 'passing';
  for (const s of statuses) {
    if (s === 'critical' || s === 'maintenance') return 'critical';
    if (s === 'warning') worst = 'warning';
  }
  return worst;
}
