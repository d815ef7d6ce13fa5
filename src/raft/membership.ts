import type { ConfChange, ConfState, NodeId } from './types.js';

/**
 * Computes the configuration after one change, without touching the input.
 * Adding a voter that is a learner promotes it; adding what is already there
 * is a no-op (bootstrap entries are applied twice on a fresh start).
 */
export function changeConf(conf: ConfState, cc: ConfChange): ConfState {
  const voters = conf.voters.filter((v) => v !== cc.node);
  const learners = conf.learners.filter((v) => v !== cc.node);
  switch (cc.type) {
    case 'add-voter':
      voters.push(cc.node);
      break;
    case 'add-learner':
      // demoting a voter to a learner is not supported: remove it first
      if (conf.voters.includes(cc.node)) return conf;
      learners.push(cc.node);
      break;
    case 'remove':
      break;
  }
  if (voters.length === 0 && conf.voters.length > 0) throw new Error('raft: removing the last voter would leave no quorum');
  return { voters: voters.sort(), learners: learners.sort() };
}

export function confHas(conf: ConfState, id: NodeId): boolean {
  return conf.voters.includes(id) || conf.learners.includes(id);
}

/** The smallest number of voters that is a majority. */
export function quorum(voters: number): number {
  return Math.floor(voters / 2) + 1;
}

export function encodeConfChange(cc: ConfChange): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(cc));
}

export function decodeConfChange(data: Uint8Array): ConfChange {
  const v = JSON.parse(new TextDecoder().decode(data)) as Partial<ConfChange>;
  if ((v.type !== 'add-voter' && v.type !== 'add-learner' && v.type !== 'remove') || typeof v.node !== 'string' || !v.node) {
    throw new Error('raft: malformed configuration change entry');
  }
  return { type: v.type, node: v.node, context: typeof v.context === 'string' ? v.context : '' };
}
