import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { Teardown } from './agent.js';

/**
 * Network partitions between loopback addresses, made with iptables: a chain
 * of its own, jumped to from INPUT, holding one DROP rule per direction of each
 * cut pair of addresses. Packets are dropped, not refused, as a real partition
 * does: established TCP connections stall and datagrams vanish. The chain and
 * the jump are removed at teardown, even when the test failed.
 *
 * Agents must send from the address they are cut by (TestCluster's
 * `ownAddresses`: each agent binds, advertises and dials from its own
 * 127.A.B.n); traffic from 127.0.0.1, such as the test's own HTTP requests,
 * is never touched.
 */
export class LoopbackFirewall {
  private readonly chain: string;
  private readonly cuts = new Set<string>();

  private constructor(t: Teardown) {
    // iptables chain names are at most 28 characters
    this.chain = `MUSTER-T${process.pid}-${randomBytes(3).toString('hex')}`.slice(0, 28);
    iptables('-N', this.chain);
    iptables('-I', 'INPUT', '-j', this.chain);
    t.teardown(() => this.remove());
  }

  /**
   * A firewall for this test, or a reason why there cannot be one (not root,
   * no iptables). Callers skip with the reason, or fail under CI=true.
   */
  static open(t: Teardown): LoopbackFirewall | string {
    const probe = spawnSync('iptables', ['-w', '-L', 'INPUT', '-n'], { encoding: 'utf8' });
    if (probe.error) return `iptables is not available (${probe.error.message})`;
    if (probe.status !== 0) return `iptables cannot be used here: ${(probe.stderr || '').trim().split('\n')[0] ?? ''}`;
    return new LoopbackFirewall(t);
  }

  /** Drops every packet between each address of `a` and each of `b`, both ways. */
  cut(a: readonly string[], b: readonly string[]): void {
    for (const x of a) {
      for (const y of b) {
        for (const [src, dst] of [[x, y], [y, x]] as const) {
          const key = `${src}>${dst}`;
          if (this.cuts.has(key)) continue;
          iptables('-A', this.chain, '-s', src, '-d', dst, '-j', 'DROP');
          this.cuts.add(key);
        }
      }
    }
  }

  /** Isolates `victim` from every address of `others`. */
  isolate(victim: string, others: readonly string[]): void {
    this.cut([victim], others.filter((o) => o !== victim));
  }

  /** Removes every cut: the network is whole again. */
  heal(): void {
    iptables('-F', this.chain);
    this.cuts.clear();
  }

  /** How many directed address pairs are cut now. */
  get cutCount(): number {
    return this.cuts.size;
  }

  private remove(): void {
    // each step on its own: a failure of one must not leave the others undone
    spawnSync('iptables', ['-w', '-D', 'INPUT', '-j', this.chain]);
    spawnSync('iptables', ['-w', '-F', this.chain]);
    spawnSync('iptables', ['-w', '-X', this.chain]);
  }
}

function iptables(...args: string[]): void {
  const r = spawnSync('iptables', ['-w', ...args], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    throw new Error(`iptables ${args.join(' ')} failed: ${r.error?.message ?? (r.stderr || '').trim()}`);
  }
}
