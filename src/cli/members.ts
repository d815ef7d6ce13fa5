import { randomBytes } from 'node:crypto';
import { parseFlags, formatFlagHelp, type FlagSpec } from '../config/flags.js';
import { MusterError, UsageError } from '../errors.js';
import { HTTP_FLAGS, clientFromFlags } from './http-flags.js';

/** serf's member status numbers, as `/v1/agent/members` sends them. */
const STATUS = ['none', 'alive', 'leaving', 'left', 'failed'];

interface Member {
  Name: string;
  Addr: string;
  Port: number;
  Status: number;
  Tags: Record<string, string>;
}

const MEMBERS_FLAGS: readonly FlagSpec[] = [
  { name: 'detailed', kind: 'bool', help: 'show every tag of each member' },
  { name: 'status', kind: 'string', help: 'only members whose status matches this regular expression' },
  { name: 'wan', kind: 'bool', help: 'list the WAN pool (not supported: only the LAN pool exists)' },
  ...HTTP_FLAGS,
];

/** `muster members`: Consul's columns, servers first, then by name; exit 2 when nothing matches. */
export async function runMembers(argv: string[]): Promise<number> {
  const p = parseFlags(argv, MEMBERS_FLAGS);
  if (p.help) return help('members [options]', MEMBERS_FLAGS);
  if (p.args.length > 0) throw new UsageError(`unexpected argument: ${p.args[0]}`);
  let filter: RegExp | undefined;
  const status = p.values.get('status') as string | undefined;
  if (status) {
    try { filter = new RegExp(`^(?:${status})$`); } catch { throw new UsageError(`invalid -status regexp: ${status}`); }
  }
  const client = clientFromFlags(p.values);
  const members = (await client.agent.members()) as unknown as Member[];
  const rows = members
    .filter((m) => !filter || filter.test(STATUS[m.Status] ?? 'none'))
    .sort((a, b) => Number(b.Tags.role === 'consul') - Number(a.Tags.role === 'consul') || a.Name.localeCompare(b.Name));
  if (rows.length === 0) return 2;
  const detailed = p.values.get('detailed') === true;
  const header = detailed
    ? ['Node', 'Address', 'Status', 'Tags']
    : ['Node', 'Address', 'Status', 'Type', 'Build', 'Protocol', 'DC', 'Segment'];
  const table = rows.map((m) => {
    const address = `${m.Addr}:${m.Port}`;
    const st = STATUS[m.Status] ?? 'none';
    if (detailed) {
      const tags = Object.keys(m.Tags).sort().map((k) => `${k}=${m.Tags[k]}`).join(',');
      return [m.Name, address, st, tags];
    }
    const type = m.Tags.role === 'consul' ? 'server' : m.Tags.role === 'node' ? 'client' : 'unknown';
    const build = m.Tags.build ? (m.Tags.build.split(':')[0] ?? '') : '< 0.3';
    const segment = type === 'server' ? '<all>' : (m.Tags.segment || '<default>');
    return [m.Name, address, st, type, build, m.Tags.vsn ?? '', m.Tags.dc ?? '', segment];
  });
  process.stdout.write(columnize([header, ...table]));
  return 0;
}

/** Columns padded with two spaces, as Consul's columnize. */
export function columnize(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => { widths[i] = Math.max(widths[i] ?? 0, c.length); });
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd((widths[i] ?? 0) + 2))).join('')).join('\n') + '\n';
}

/** `muster join ADDR...`: asks the local agent to join each address. */
export async function runJoin(argv: string[]): Promise<number> {
  const p = parseFlags(argv, [{ name: 'wan', kind: 'bool', help: 'join the WAN pool (not supported)' }, ...HTTP_FLAGS]);
  if (p.help) return help('join [options] ADDRESS...', HTTP_FLAGS);
  if (p.args.length === 0) throw new UsageError('At least one address to join must be specified.');
  const client = clientFromFlags(p.values);
  let joined = 0;
  const failures: string[] = [];
  for (const addr of p.args) {
    try {
      await client.write(`/v1/agent/join/${encodeURIComponent(addr)}`);
      joined++;
    } catch (err) {
      failures.push(`${addr}: ${(err as Error).message}`);
    }
  }
  if (joined === 0) throw new MusterError('ERR_BACKEND', `Error joining address(es): ${failures.join('; ')}`);
  process.stdout.write(`Successfully joined cluster by contacting ${joined} nodes.\n`);
  return 0;
}

/** `muster leave`: the local agent leaves gracefully and shuts down. */
export async function runLeave(argv: string[]): Promise<number> {
  const p = parseFlags(argv, HTTP_FLAGS);
  if (p.help) return help('leave [options]', HTTP_FLAGS);
  await clientFromFlags(p.values).write('/v1/agent/leave');
  process.stdout.write('Graceful leave complete\n');
  return 0;
}

/** `muster force-leave NODE`: a failed member is moved to left. */
export async function runForceLeave(argv: string[]): Promise<number> {
  const flags: FlagSpec[] = [{ name: 'prune', kind: 'bool', help: 'remove the member from the list entirely' }, ...HTTP_FLAGS];
  const p = parseFlags(argv, flags);
  if (p.help) return help('force-leave [options] NODE', flags);
  if (p.args.length !== 1) throw new UsageError('A single node name must be specified to force leave.');
  const q = p.values.get('prune') === true ? '?prune=1' : '';
  await clientFromFlags(p.values).write(`/v1/agent/force-leave/${encodeURIComponent(p.args[0] as string)}${q}`);
  return 0;
}

/** `muster keygen`: a new gossip encryption key, 32 random bytes in base64. */
export function runKeygen(argv: string[]): number {
  if (argv.length > 0 && argv[0] !== '-help' && argv[0] !== '--help') throw new UsageError(`unexpected argument: ${argv[0]}`);
  if (argv.length > 0) { process.stdout.write('Usage: muster keygen\n\nPrints a new 32-byte gossip encryption key for -encrypt.\n'); return 0; }
  process.stdout.write(`${randomBytes(32).toString('base64')}\n`);
  return 0;
}

function help(usage: string, flags: readonly FlagSpec[]): number {
  process.stdout.write(`Usage: muster ${usage}\n\n${formatFlagHelp(flags)}\n`);
  return 0;
}
