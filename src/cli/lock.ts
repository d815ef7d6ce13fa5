import { spawn, type ChildProcess } from 'node:child_process';
import { parseFlags, formatFlagHelp, type FlagSpec } from '../config/flags.js';
import { MusterError, UsageError, errorMessage } from '../errors.js';
import { sleep } from '../time.js';
import { Lock } from '../client/lock.js';
import { Semaphore, DEFAULT_SEMAPHORE_KEY } from '../client/semaphore.js';
import { joinKey } from '../client/key-path.js';
import { HTTP_FLAGS, clientFromFlags } from './http-flags.js';

/** How long a child gets between SIGTERM and SIGKILL (consul lock's lockKillGracePeriod). */
const KILL_GRACE_MS = 5_000;
/** 5xx answers the monitor rides out, 1 s apart (consul lock's defaults). */
const DEFAULT_MONITOR_RETRY = 3;
const MONITOR_RETRY_TIME_MS = 1_000;
/** Signals passed on to the child (Consul's forwardSignals on Unix); both also start a shutdown. */
const FORWARDED: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];

const FLAGS: readonly FlagSpec[] = [
  { name: 'child-exit-code', kind: 'bool', help: 'exit 2 if the child exited with an error' },
  { name: 'n', kind: 'int', help: 'number of holders at once; above 1 a semaphore is used', default: '1' },
  { name: 'monitor-retry', kind: 'int', help: '5xx answers tolerated (1s apart) while monitoring the lock', default: String(DEFAULT_MONITOR_RETRY) },
  { name: 'name', kind: 'string', help: 'session name (default: "Consul lock for \'<child>\' at \'<prefix>\'")' },
  { name: 'pass-stdin', kind: 'bool', help: 'pass stdin to the child' },
  { name: 'shell', kind: 'bool', help: 'run the command with $SHELL -c (default /bin/sh), else exec it directly', default: 'true' },
  { name: 'timeout', kind: 'duration', help: 'maximum time to wait for the lock (0: forever)', default: '0', aliases: ['try'] },
  { name: 'verbose', kind: 'bool', help: 'print what happens' },
  ...HTTP_FLAGS,
];

interface Holder {
  acquire(signal: AbortSignal): Promise<AbortSignal | undefined>;
  release(): Promise<void>;
  cleanup(): Promise<void>;
}

interface Child {
  proc: ChildProcess | undefined;
  /** Resolves when the child is gone: null if it exited 0, else what went wrong. */
  exited: Promise<Error | null>;
}

/**
 * `muster lock [options] PREFIX CMD...`, as `consul lock`: holds the lock at
 * `PREFIX/.lock` (or one of -n slots of the semaphore at PREFIX) while CMD
 * runs with CONSUL_LOCK_HELD=true; stops CMD (SIGTERM, then SIGKILL after 5 s)
 * if the lock is lost or a shutdown signal comes; releases, then cleans up.
 */
export async function runLock(argv: string[]): Promise<number> {
  const p = parseFlags(argv, FLAGS);
  if (p.help) {
    process.stdout.write(`Usage: muster lock [options] PREFIX CMD...\n\n${formatFlagHelp(FLAGS)}\n`);
    return 0;
  }
  const v = p.values;
  const limit = (v.get('n') as number | undefined) ?? 1;
  if (limit <= 0) throw new UsageError('Lock holder limit must be positive');
  if (p.args.length < 2) throw new UsageError('Key prefix and child command must be specified');
  const prefix = (p.args[0] as string).replace(/^\//, '');
  const command = p.args.slice(1);
  const timeoutMs = (v.get('timeout') as number | undefined) ?? 0;
  if (timeoutMs < 0) throw new UsageError('Timeout must be positive');
  const name = (v.get('name') as string | undefined) || `Consul lock for '${command.join(' ')}' at '${prefix}'`;
  const monitorRetries = (v.get('monitor-retry') as number | undefined) ?? DEFAULT_MONITOR_RETRY;
  if (monitorRetries < 0) throw new UsageError("Number for 'monitor-retry' must be >= 0");
  const verbose = v.get('verbose') === true;
  const say = (line: string) => { if (verbose) process.stdout.write(`${line}\n`); };
  const complain = (line: string) => { process.stderr.write(`muster: ${line}\n`); };

  const client = clientFromFlags(v);
  try {
    await client.agent.nodeName();
  } catch (err) {
    throw new MusterError('ERR_UNREACHABLE', `Error querying Consul agent: ${errorMessage(err)}`, { cause: err });
  }

  const oneshot = timeoutMs > 0;
  let holder: Holder;
  try {
    if (limit === 1) {
      const key = joinKey(prefix, DEFAULT_SEMAPHORE_KEY);
      say(`Setting up lock at path: ${key}`);
      const lock = new Lock(client, {
        key, sessionName: name, monitorRetries, monitorRetryTimeMs: MONITOR_RETRY_TIME_MS,
        ...(oneshot ? { lockTryOnce: true, lockWaitTimeMs: timeoutMs } : {}),
      });
      holder = { acquire: (signal) => lock.lock({ signal }), release: () => lock.unlock(), cleanup: () => lock.destroy() };
    } else {
      say(`Setting up semaphore (limit ${limit}) at prefix: ${prefix}`);
      const sem = new Semaphore(client, {
        prefix, limit, sessionName: name, monitorRetries, monitorRetryTimeMs: MONITOR_RETRY_TIME_MS,
        ...(oneshot ? { semaphoreTryOnce: true, semaphoreWaitTimeMs: timeoutMs } : {}),
      });
      holder = { acquire: (signal) => sem.acquire({ signal }), release: () => sem.release(), cleanup: () => sem.destroy() };
    }
  } catch (err) {
    throw new MusterError('ERR_LOCK', `Lock setup failed: ${errorMessage(err)}`, { cause: err });
  }

  const shutdown = new AbortController();
  let child: Child | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    const proc = child?.proc;
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      try {
        proc.kill(sig);
      } catch (err) {
        complain(`Warning, could not forward signal: failed to send signal "${sig}": ${errorMessage(err)}`);
      }
    }
    shutdown.abort();
  };
  for (const s of FORWARDED) process.on(s, onSignal);
  try {
    say('Attempting lock acquisition');
    let lost: AbortSignal | undefined;
    try {
      lost = await holder.acquire(shutdown.signal);
    } catch (err) {
      complain(`Lock acquisition failed: ${errorMessage(err)}`);
      return 1;
    }
    if (!lost) {
      complain('Shutdown triggered or timeout during lock acquisition');
      return 1;
    }

    let childCode = 0;
    if (shutdown.signal.aborted) {
      complain('Shutdown triggered during lock acquisition');
    } else {
      say('Starting handler');
      child = startChild(command, v.get('shell') !== false, v.get('pass-stdin') === true, complain);
      const running = child;
      const outcome = await firstOf(running.exited, shutdown.signal, lost);
      if (outcome.kind === 'exited') {
        if (outcome.err) childCode = 2;
        say('Child terminated, releasing lock');
      } else {
        say(outcome.kind === 'shutdown' ? 'Shutdown triggered, killing child' : 'Lock lost, killing child');
        await killChild(running, say, complain);
      }
    }

    try {
      await holder.release();
    } catch (err) {
      complain(`Lock release failed: ${errorMessage(err)}`);
      return 1;
    }
    try {
      await holder.cleanup();
      say('Cleanup succeeded');
    } catch (err) {
      if (!(err instanceof MusterError && err.code === 'ERR_LOCK_IN_USE')) {
        complain(`Lock cleanup failed: ${errorMessage(err)}`);
        return 1;
      }
      say('Cleanup aborted, lock in use');
    }
    return v.get('child-exit-code') === true ? childCode : 0;
  } finally {
    for (const s of FORWARDED) process.off(s, onSignal);
  }
}

function startChild(command: string[], shell: boolean, passStdin: boolean, complain: (line: string) => void): Child {
  const [file, args] = shell
    ? [process.env.SHELL || '/bin/sh', ['-c', command.join(' ')]]
    : [command[0] as string, command.slice(1)];
  let proc: ChildProcess;
  try {
    proc = spawn(file, args, {
      env: { ...process.env, CONSUL_LOCK_HELD: 'true' },
      stdio: [passStdin ? 'inherit' : 'ignore', 'inherit', 'inherit'],
    });
  } catch (err) {
    complain(`Error starting handler: ${errorMessage(err)}`);
    return { proc: undefined, exited: Promise.resolve(err instanceof Error ? err : new MusterError('ERR_INTERNAL', String(err))) };
  }
  const exited = new Promise<Error | null>((resolve) => {
    proc.once('error', (err) => {
      complain(`Error starting handler: ${err.message}`);
      resolve(err);
    });
    proc.once('exit', (code, signal) => {
      if (code === 0) { resolve(null); return; }
      const why = signal ? `signal: ${goSignalName(signal)}` : `exit status ${code ?? -1}`;
      complain(`Error running handler: ${why}`);
      resolve(new MusterError('ERR_INTERNAL', why));
    });
  });
  return { proc, exited };
}

/** SIGTERM, up to 5 s for the child to go, then SIGKILL. */
async function killChild(child: Child, say: (l: string) => void, complain: (l: string) => void): Promise<void> {
  const proc = child.proc;
  if (!proc || proc.pid === undefined) {
    say('No child process to kill');
    return;
  }
  if (proc.exitCode !== null || proc.signalCode !== null) {
    await child.exited;
    return;
  }
  say(`Terminating child pid ${proc.pid}`);
  if (!proc.kill('SIGTERM')) {
    complain(`Failed to terminate ${proc.pid}`);
    return;
  }
  const grace = new AbortController();
  const gone = await Promise.race([
    child.exited.then(() => true),
    sleep(KILL_GRACE_MS, grace.signal).then(() => false, () => true),
  ]);
  grace.abort();
  if (gone) {
    say('Child terminated');
    return;
  }
  say(`Child did not exit after grace period of ${KILL_GRACE_MS / 1000}s`);
  say(`Killing child pid ${proc.pid}`);
  if (!proc.kill('SIGKILL')) complain(`Failed to kill ${proc.pid}`);
  await child.exited;
}

type Outcome = { kind: 'exited'; err: Error | null } | { kind: 'shutdown' } | { kind: 'lost' };

/** Whichever comes first: the child's exit, a shutdown, or the loss of the lock. Leaves no listener behind. */
async function firstOf(exited: Promise<Error | null>, shutdown: AbortSignal, lost: AbortSignal): Promise<Outcome> {
  if (shutdown.aborted) return { kind: 'shutdown' };
  if (lost.aborted) return { kind: 'lost' };
  let cleanup = () => {};
  const signalled = new Promise<Outcome>((resolve) => {
    const onShutdown = () => resolve({ kind: 'shutdown' });
    const onLost = () => resolve({ kind: 'lost' });
    shutdown.addEventListener('abort', onShutdown, { once: true });
    lost.addEventListener('abort', onLost, { once: true });
    cleanup = () => {
      shutdown.removeEventListener('abort', onShutdown);
      lost.removeEventListener('abort', onLost);
    };
  });
  try {
    return await Promise.race([exited.then((err): Outcome => ({ kind: 'exited', err })), signalled]);
  } finally {
    cleanup();
  }
}

/** How Go's os.ProcessState names a signal ("signal: terminated"). */
function goSignalName(sig: NodeJS.Signals): string {
  const names: Partial<Record<NodeJS.Signals, string>> = {
    SIGTERM: 'terminated', SIGKILL: 'killed', SIGINT: 'interrupt', SIGHUP: 'hangup', SIGQUIT: 'quit', SIGABRT: 'aborted',
    SIGSEGV: 'segmentation fault', SIGPIPE: 'broken pipe', SIGUSR1: 'user defined signal 1', SIGUSR2: 'user defined signal 2',
  };
  return names[sig] ?? sig;
}
