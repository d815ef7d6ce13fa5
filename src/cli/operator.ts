import { parseFlags, formatFlagHelp, type FlagSpec } from '../config/flags.js';
import { UsageError } from '../errors.js';
import { HTTP_FLAGS, clientFromFlags } from './http-flags.js';
import { columnize } from './members.js';

interface RaftServer {
  ID: string;
  Node: string;
  Address: string;
  Leader: boolean;
  Voter: boolean;
  ProtocolVersion: string;
}

const LIST_FLAGS: readonly FlagSpec[] = [
  { name: 'stale', kind: 'bool', help: 'let any server answer, even without a leader' },
  ...HTTP_FLAGS,
];

const REMOVE_FLAGS: readonly FlagSpec[] = [
  { name: 'id', kind: 'string', help: 'the Raft ID of the server to remove' },
  { name: 'address', kind: 'string', help: 'the IP:port (server RPC) of the server to remove' },
  ...HTTP_FLAGS,
];

const USAGE = `Usage: muster operator raft <subcommand> [options]

Subcommands:
  list-peers   show the servers in the Raft configuration (Node, ID, Address, State, Voter, RaftProtocol)
  remove-peer  remove a server from the Raft configuration (-id or -address)`;

/** `muster operator raft list-peers|remove-peer`, as `consul operator raft`. */
export async function runOperator(argv: string[]): Promise<number> {
  const [area, sub, ...rest] = argv;
  if (area === undefined || area === '-h' || area === '-help' || area === '--help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (area !== 'raft') throw new UsageError(`unknown operator area "${area}" (only "raft")`);
  switch (sub) {
    case 'list-peers': return listPeers(rest);
    case 'remove-peer': return removePeer(rest);
    case undefined: case '-h': case '-help': case '--help':
      process.stdout.write(`${USAGE}\n`);
      return 0;
    default:
      throw new UsageError(`unknown subcommand "operator raft ${sub}" (list-peers, remove-peer)`);
  }
}

async function listPeers(argv: string[]): Promise<number> {
  const p = parseFlags(argv, LIST_FLAGS);
  if (p.help) return help('operator raft list-peers [options]', LIST_FLAGS);
  if (p.args.length > 0) throw new UsageError(`unexpected argument: ${p.args[0]}`);
  const client = clientFromFlags(p.values);
  const { value } = await client.read<{ Servers: RaftServer[] }>('/v1/operator/raft/configuration', p.values.get('stale') === true ? { stale: true } : {});
  const rows = value.Servers.map((s) => [s.Node, s.ID, s.Address, s.Leader ? 'leader' : 'follower', String(s.Voter), s.ProtocolVersion]);
  process.stdout.write(columnize([['Node', 'ID', 'Address', 'State', 'Voter', 'RaftProtocol'], ...rows]));
  return 0;
}

async function removePeer(argv: string[]): Promise<number> {
  const p = parseFlags(argv, REMOVE_FLAGS);
  if (p.help) return help('operator raft remove-peer [options]', REMOVE_FLAGS);
  const id = p.values.get('id') as string | undefined;
  const address = p.values.get('address') as string | undefined;
  if ((!id && !address) || (id && address)) throw new UsageError('give exactly one of -id or -address');
  const client = clientFromFlags(p.values);
  await client.write('/v1/operator/raft/peer', { query: id ? { id } : { address } }, 'DELETE');
  process.stdout.write(`Removed peer with ${id ? `id "${id}"` : `address "${address}"`}\n`);
  return 0;
}

function help(usage: string, flags: readonly FlagSpec[]): number {
  process.stdout.write(`Usage: muster ${usage}\n\n${formatFlagHelp(flags)}\n`);
  return 0;
}
