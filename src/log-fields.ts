/**
 * Stable field names for structured logs. A component logs through
 * `log.child({ component })`; data goes in these fields, never into `msg`.
 */
export const LogField = {
  component: 'component',
  node: 'node',
  peer: 'peer',
  term: 'term',
  index: 'index',
  service: 'service',
  check: 'check',
  container: 'container',
  key: 'key',
  err: 'err',
  durationMs: 'durationMs',
  addr: 'addr',
  qname: 'qname',       // a DNS question's name
  qtype: 'qtype',       // and its type
  transport: 'transport', // udp or tcp
} as const;
