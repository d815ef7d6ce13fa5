/**
 * The gossip library's own errors (it imports nothing from the rest of src/).
 * Each class carries a stable `code`: callers and tests branch on the code,
 * never on the message, which may be improved.
 */
export type GossipErrorCode =
  | 'ERR_GOSSIP_CONFIG' // a GossipConfig field is missing, out of range or inconsistent
  | 'ERR_GOSSIP_KEY' // an encryption key is not base64 of 16, 24 or 32 bytes
  | 'ERR_GOSSIP_ENCRYPTION_MISMATCH' // the peer cannot read our frames or we cannot read theirs
  | 'ERR_GOSSIP_JOIN' // no join address answered
  | 'ERR_GOSSIP_STREAM' // one push-pull exchange failed (refused, timed out, undecodable)
  | 'ERR_GOSSIP_STATE' // a call in the wrong lifecycle state (join before start, after stop)
  | 'ERR_GOSSIP_BAD_SELF'; // the local member's name, address or tags cannot be encoded

export class GossipError extends Error {
  readonly code: GossipErrorCode;
  constructor(code: GossipErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'GossipError';
    this.code = code;
  }
}

/** One line per problem, all problems at once (as fastify's boot validation). */
export class GossipConfigError extends GossipError {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super('ERR_GOSSIP_CONFIG', `invalid gossip config: ${problems.join('; ')}`);
    this.name = 'GossipConfigError';
    this.problems = problems;
  }
}

export class GossipKeyError extends GossipError {
  constructor(message: string) {
    super('ERR_GOSSIP_KEY', message);
    this.name = 'GossipKeyError';
  }
}

/** A push-pull exchange with one address failed; `address` names the peer. */
export class GossipStreamError extends GossipError {
  readonly address: string;
  constructor(code: 'ERR_GOSSIP_STREAM' | 'ERR_GOSSIP_ENCRYPTION_MISMATCH', address: string, message: string, options?: ErrorOptions) {
    super(code, message, options);
    this.name = 'GossipStreamError';
    this.address = address;
  }
}

/**
 * No join address answered. `causes` holds one error per address; when any of
 * them is an encryption mismatch the code says so, because that is the cause
 * an operator has to fix (a wrong `-encrypt` key or a plaintext peer).
 */
export class GossipJoinError extends GossipError {
  readonly causes: readonly GossipStreamError[];
  constructor(causes: readonly GossipStreamError[]) {
    const mismatch = causes.some((c) => c.code === 'ERR_GOSSIP_ENCRYPTION_MISMATCH');
    const detail = causes.map((c) => `${c.address}: ${c.message}`).join('; ');
    super(
      mismatch ? 'ERR_GOSSIP_ENCRYPTION_MISMATCH' : 'ERR_GOSSIP_JOIN',
      mismatch
        ? `join failed: encryption key mismatch or plaintext peer (${detail})`
        : `join failed: no address answered (${detail || 'no addresses given'})`,
    );
    this.name = 'GossipJoinError';
    this.causes = causes;
  }
}

export class GossipStateError extends GossipError {
  constructor(message: string) {
    super('ERR_GOSSIP_STATE', message);
    this.name = 'GossipStateError';
  }
}

export class GossipSelfError extends GossipError {
  constructor(message: string) {
    super('ERR_GOSSIP_BAD_SELF', message);
    this.name = 'GossipSelfError';
  }
}
