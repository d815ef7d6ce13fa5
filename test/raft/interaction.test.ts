/**
 * Script tests of the Raft core, in the style of etcd's interaction tests:
 * each test/raft/scripts/*.txt file is a list of commands, each followed by
 * `----` and the output it must produce. REWRITE=1 writes the actual output
 * back into the files (review the diff like code).
 *
 * Commands (servers are named by numbers; `(1,2)` is a list):
 *   add-nodes <n> voters=(..) [learners=(..)] [prevote=bool] [checkquorum=bool] [maxinflight=n] [maxsize=n]
 *   campaign <id>                    start an election now
 *   propose <id> <text>              a client write at <id>
 *   propose-conf-change <id> <add-voter|add-learner|remove> <node>
 *   read-index <id> <context>
 *   transfer-leadership <from> <to>
 *   tick <id> [n] | tick-heartbeat <id> | tick-election <id>
 *   process-ready [id..]             persist and queue the messages of pending Readys
 *   deliver-msgs [drop=(..)]         deliver what is queued once (messages to `drop` are lost)
 *   stabilize                        process Readys and deliver until nothing moves
 *   partition <ids> | <ids> ...      servers in different groups cannot talk; `heal` ends it
 *   raft-state                       role, term, leader, commit of every server
 *   raft-log <id>                    the log of one server
 *
 * Output: state changes ("2 became leader at term 1"), messages as they are
 * delivered ("1->2 app t1 prev=0/0 ents=[1/1] commit=0") or dropped, read
 * answers and applied configuration changes. The randomized election timeout
 * is pinned to electionTicks (random() = 0), so scripts are deterministic.
 */
import t from 'tap';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { ProposalDroppedError, RaftCore } from '../../src/raft/core.js';
import { decodeConfChange } from '../../src/raft/membership.js';
import { MemoryStorage } from '../../src/raft/storage.js';
import type { ConfChange, Entry, Message } from '../../src/raft/types.js';

// dist/test/raft/interaction.test.js -> test/raft/scripts
const SCRIPTS = fileURLToPath(new URL('../../../test/raft/scripts/', import.meta.url));

interface Server {
  id: string;
  core: RaftCore;
  storage: MemoryStorage;
  role: string;
  term: number;
}

const dec = new TextDecoder();

function fmtEntry(e: Entry): string {
  if (e.type === 'conf') {
    const cc = decodeConfChange(e.data);
    return `${e.index}/${e.term} ${cc.type} ${cc.node}`;
  }
  return e.data.length === 0 ? `${e.index}/${e.term}` : `${e.index}/${e.term} ${dec.decode(e.data)}`;
}

function fmtMsg(m: Message): string {
  let s = `${m.from}->${m.to} ${m.type} t${m.term}`;
  switch (m.type) {
    case 'app':
      return `${s} prev=${m.index}/${m.logTerm} ents=[${m.entries.map((e) => `${e.index}/${e.term}`).join(' ')}] commit=${m.commit}`;
    case 'app-resp':
      return m.reject ? `${s} reject idx=${m.index} hint=${m.rejectHint}/${m.logTerm}` : `${s} idx=${m.index}`;
    case 'vote': case 'pre-vote':
      return `${s} last=${m.index}/${m.logTerm}${m.context ? ` ${m.context}` : ''}`;
    case 'vote-resp': case 'pre-vote-resp':
      return `${s} ${m.reject ? 'reject' : 'grant'}`;
    case 'heartbeat':
      return `${s} commit=${m.commit}${m.context ? ` ctx=${m.context}` : ''}`;
    case 'heartbeat-resp':
      return m.context ? `${s} ctx=${m.context}` : s;
    case 'snap':
      s += ` snap=${m.snapshot?.meta.index}/${m.snapshot?.meta.term}`;
      return s;
    default:
      return s;
  }
}

function parseList(v: string): string[] {
  const m = /^\((.*)\)$/.exec(v);
  if (!m) throw new Error(`expected a list like (1,2,3), got ${v}`);
  return (m[1] ?? '').split(',').map((x) => x.trim()).filter(Boolean);
}

class Env {
  readonly servers = new Map<string, Server>();
  queue: Message[] = [];
  private groups = new Map<string, number>();
  out: string[] = [];

  srv(id: string | undefined): Server {
    const s = this.servers.get(id ?? '');
    if (!s) throw new Error(`no server ${id}`);
    return s;
  }

  /** Notes role and term changes since the last look. */
  observe(s: Server): void {
    if (s.core.role !== s.role || s.core.term !== s.term) {
      if (s.core.role !== s.role) this.out.push(`${s.id} became ${s.core.role} at term ${s.core.term}`);
      else this.out.push(`${s.id} moved to term ${s.core.term} as ${s.core.role}`);
      s.role = s.core.role;
      s.term = s.core.term;
    }
  }

  processReady(ids?: string[]): void {
    for (const s of this.servers.values()) {
      if (ids && !ids.includes(s.id)) continue;
      while (s.core.hasReady()) {
        const rd = s.core.ready();
        if (rd.snapshot) s.storage.applySnapshot(rd.snapshot);
        s.storage.append(rd.entries);
        if (rd.hardState) s.storage.setHardState(rd.hardState);
        this.queue.push(...rd.messages);
        for (const e of rd.committedEntries) {
          if (e.type !== 'conf') continue;
          const conf = s.core.applyConfChange(decodeConfChange(e.data));
          if (e.term > 1 || e.index > this.servers.size) {
            this.out.push(`${s.id} applied ${fmtEntry(e)}: voters=(${conf.voters.join(',')})${conf.learners.length ? ` learners=(${conf.learners.join(',')})` : ''}`);
          }
        }
        for (const r of rd.readStates) this.out.push(`${s.id} read ${r.context} at index ${r.index}`);
        s.core.advance(rd);
        this.observe(s);
      }
    }
  }

  cut(a: string, b: string): boolean {
    const ga = this.groups.get(a);
    const gb = this.groups.get(b);
    return ga !== undefined && gb !== undefined && ga !== gb;
  }

  /** Delivers the queued messages once; returns how many moved. */
  deliver(drop: string[] = []): number {
    const ms = this.queue;
    this.queue = [];
    for (const m of ms) {
      if (drop.includes(m.to) || this.cut(m.from, m.to) || !this.servers.has(m.to)) {
        this.out.push(`dropped ${fmtMsg(m)}`);
        continue;
      }
      this.out.push(fmtMsg(m));
      const s = this.srv(m.to);
      s.core.step(m);
      this.observe(s);
    }
    return ms.length;
  }

  run(line: string): string[] {
    this.out = [];
    const [cmd, ...args] = line.trim().split(/\s+/);
    const kv = new Map(args.filter((a) => a.includes('=')).map((a) => a.split('=', 2) as [string, string]));
    const pos = args.filter((a) => !a.includes('='));
    switch (cmd) {
      case 'add-nodes': {
        const n = Number(pos[0]);
        const voters = parseList(kv.get('voters') ?? '()');
        const learners = kv.has('learners') ? parseList(kv.get('learners') as string) : [];
        for (let i = 1; i <= n; i++) {
          const id = String(this.servers.size + 1);
          const storage = new MemoryStorage({ voters, learners });
          const core = new RaftCore({
            id, electionTicks: 10, heartbeatTicks: 1, maxSizePerMsg: Number(kv.get('maxsize') ?? 4096),
            maxInflight: Number(kv.get('maxinflight') ?? 256), maxCommittedSizePerReady: 0,
            preVote: (kv.get('prevote') ?? 'true') === 'true', checkQuorum: (kv.get('checkquorum') ?? 'false') === 'true',
            applied: 0, random: () => 0,
          }, storage);
          this.servers.set(id, { id, core, storage, role: core.role, term: core.term });
        }
        this.out.push('ok');
        break;
      }
      case 'campaign': {
        const s = this.srv(pos[0]);
        s.core.campaign();
        this.observe(s);
        break;
      }
      case 'propose': {
        const s = this.srv(pos[0]);
        try {
          const at = s.core.propose(new TextEncoder().encode(pos.slice(1).join(' ')));
          this.out.push(`${s.id} proposed at ${at.index}/${at.term}`);
        } catch (err) {
          if (!(err instanceof ProposalDroppedError)) throw err;
          this.out.push(`${s.id} refused: ${err.message}`);
        }
        break;
      }
      case 'propose-conf-change': {
        const s = this.srv(pos[0]);
        const cc: ConfChange = { type: pos[1] as ConfChange['type'], node: pos[2] ?? '', context: '' };
        try {
          const at = s.core.proposeConfChange(cc);
          this.out.push(`${s.id} proposed ${cc.type} ${cc.node} at ${at.index}/${at.term}`);
        } catch (err) {
          if (!(err instanceof ProposalDroppedError)) throw err;
          this.out.push(`${s.id} refused: ${err.message}`);
        }
        break;
      }
      case 'read-index': {
        const s = this.srv(pos[0]);
        try {
          s.core.readIndex(pos[1] ?? '');
          this.out.push('ok');
        } catch (err) {
          if (!(err instanceof ProposalDroppedError)) throw err;
          this.out.push(`${s.id} refused: ${err.message}`);
        }
        break;
      }
      case 'transfer-leadership': {
        const s = this.srv(pos[0]);
        s.core.transferLeadership(pos[1] ?? '');
        this.out.push('ok');
        break;
      }
      case 'tick': case 'tick-heartbeat': case 'tick-election': {
        const s = this.srv(pos[0]);
        const n = cmd === 'tick' ? Number(pos[1] ?? 1) : cmd === 'tick-heartbeat' ? 1 : 10;
        for (let i = 0; i < n; i++) {
          s.core.tick();
          this.observe(s);
        }
        if (this.out.length === 0) this.out.push('ok');
        break;
      }
      case 'process-ready':
        this.processReady(pos.length ? pos : undefined);
        this.out.push(`${this.queue.length} message(s) queued`);
        break;
      case 'deliver-msgs':
        this.processReady();
        if (this.deliver(kv.has('drop') ? parseList(kv.get('drop') as string) : []) === 0) this.out.push('nothing to deliver');
        break;
      case 'stabilize':
        for (let round = 0; round < 1000; round++) {
          this.processReady();
          if (this.deliver() === 0) break;
        }
        if (this.out.length === 0) this.out.push('ok');
        break;
      case 'partition': {
        this.groups = new Map();
        args.join(' ').split('|').forEach((g, i) => g.trim().split(/\s+/).forEach((id) => this.groups.set(id, i)));
        this.out.push('ok');
        break;
      }
      case 'heal':
        this.groups = new Map();
        this.out.push('ok');
        break;
      case 'raft-state':
        for (const s of this.servers.values()) {
          const st = s.core.status();
          // cut off: it reaches no majority of the servers (itself included)
          const reach = [...this.servers.keys()].filter((o) => o === s.id || !this.cut(s.id, o)).length;
          const cutOff = reach <= this.servers.size / 2 ? ' (cut off)' : '';
          this.out.push(`${s.id}: ${st.role} term=${st.term}${st.role === 'leader' ? '' : ` lead=${st.leader || '-'}`} commit=${st.commit} last=${st.lastIndex}${cutOff}`);
        }
        break;
      case 'raft-log': {
        const log = this.srv(pos[0]).core.log;
        const ents = log.lastIndex() >= log.firstIndex() ? log.slice(log.firstIndex(), log.lastIndex() + 1, Number.MAX_SAFE_INTEGER) : [];
        this.out.push(...(ents.length ? ents.map(fmtEntry) : ['(empty)']));
        break;
      }
      default:
        throw new Error(`unknown command ${cmd}`);
    }
    return this.out;
  }
}

interface Block {
  command: string;
  expected: string[];
}

function parseScript(text: string): { blocks: Block[]; comments: Map<number, string[]> } {
  const lines = text.split('\n');
  const blocks: Block[] = [];
  const comments = new Map<number, string[]>();
  let i = 0;
  let pendingComments: string[] = [];
  while (i < lines.length) {
    const line = lines[i] as string;
    if (line.trim() === '') {
      i++;
      continue;
    }
    if (line.startsWith('#')) {
      pendingComments.push(line);
      i++;
      continue;
    }
    if (lines[i + 1] !== '----') throw new Error(`line ${i + 2}: expected ---- after the command "${line}"`);
    const expected: string[] = [];
    i += 2;
    while (i < lines.length && (lines[i] as string).trim() !== '') expected.push(lines[i++] as string);
    if (pendingComments.length) comments.set(blocks.length, pendingComments);
    pendingComments = [];
    blocks.push({ command: line, expected });
  }
  return { blocks, comments };
}

const files = readdirSync(SCRIPTS).filter((f) => f.endsWith('.txt')).sort();
for (const f of files) {
  t.test(`script ${f}`, async (t) => {
    const path = join(SCRIPTS, f);
    const { blocks, comments } = parseScript(readFileSync(path, 'utf8'));
    const env = new Env();
    const rewritten: string[] = [];
    for (const [i, b] of blocks.entries()) {
      const actual = env.run(b.command);
      if (process.env.REWRITE === '1') {
        rewritten.push(...(comments.get(i) ?? []), b.command, '----', ...actual, '');
      } else {
        t.same(actual, b.expected, b.command);
      }
    }
    if (process.env.REWRITE === '1') {
      writeFileSync(path, rewritten.join('\n'));
      t.pass(`rewrote ${f}`);
    }
  });
}
