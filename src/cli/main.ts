import { MusterError, UsageError, errorMessage } from '../errors.js';
import { VERSION } from '../version.js';

const USAGE = `Usage: muster <command> [flags]

Commands:
  agent     run an agent (-dev for a single in-memory server with the Docker sidecar)
  sidecar   register Docker containers in an existing registry: muster sidecar [flags] consul://HOST:PORT | etcd://HOST:PORT/PREFIX
  kv        read and write the key/value store: muster kv put|get|delete|export|import (as consul kv)
  lock      run a command while holding a lock: muster lock [-n N] PREFIX CMD... (as consul lock)
  members   list the members of the gossip pool (-detailed, -status REGEX)
  join      ask the local agent to join others: muster join ADDR...
  leave     make the local agent leave gracefully and stop
  force-leave  move a failed member to left: muster force-leave NODE
  keygen    print a new gossip encryption key for -encrypt
  operator  operator raft list-peers | remove-peer (-id or -address)
  version   print the version

Run "muster <command> -help" for a command's flags.`;

/** Runs the CLI; resolves with the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      // loaded on demand: each command pulls in only its own dependencies (axios for the sidecar, ...)
      case 'agent': return await (await import('./agent.js')).runAgent(rest);
      case 'sidecar': return await (await import('./sidecar.js')).runSidecar(rest);
      case 'kv': return await (await import('./kv.js')).runKv(rest);
      case 'lock': return await (await import('./lock.js')).runLock(rest);
      case 'members': return await (await import('./members.js')).runMembers(rest);
      case 'join': return await (await import('./members.js')).runJoin(rest);
      case 'leave': return await (await import('./members.js')).runLeave(rest);
      case 'force-leave': return await (await import('./members.js')).runForceLeave(rest);
      case 'keygen': return (await import('./members.js')).runKeygen(rest);
      case 'operator': return await (await import('./operator.js')).runOperator(rest);
      case 'version': case '-v': case '-version': case '--version':
        process.stdout.write(`Muster v${VERSION}\nSpeaks the Consul HTTP API (v1)\n`);
        return 0;
      case undefined: case 'help': case '-h': case '-help': case '--help':
        process.stdout.write(`${USAGE}\n`);
        return command === undefined ? 1 : 0;
      default:
        throw new UsageError(`unknown command: ${command}`);
    }
  } catch (err) {
    process.stderr.write(`muster: ${errorMessage(err)}\n`);
    if (err instanceof UsageError) return 2;
    if (err instanceof MusterError) return 1;
    return 1;
  }
}
