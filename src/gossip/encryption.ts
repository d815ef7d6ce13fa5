import { createCipheriv, createDecipheriv } from 'node:crypto';
import type { Keyring } from './keyring.js';
import type { DropReason } from './stats.js';
import { looksLikePlaintext } from './wire.js';

/**
 * AES-GCM sealing of packets and stream frames, laid out as Serf/memberlist
 * do (encryption version 1, no padding):
 *
 *   version u8 (= 1) | nonce (12 bytes) | ciphertext | GCM tag (16 bytes)
 *
 * The key size picks AES-128/192/256. The additional authenticated data names
 * the channel ("packet" or "stream"), so a sealed packet cannot be replayed as
 * a stream frame. Nonces must never repeat under one key: the caller passes
 * 12 bytes from a cryptographic generator (the runtime's randomBytes), never
 * from the seeded Rng of the core.
 */
export const ENCRYPTION_VERSION = 1;
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;
/** Bytes sealing adds: version + nonce + tag (memberlist's encryptOverhead for version 1). */
export const ENCRYPTION_OVERHEAD = 1 + NONCE_BYTES + TAG_BYTES;

export type Channel = 'packet' | 'stream';

const AAD: Record<Channel, Buffer> = {
  packet: Buffer.from('muster-gossip/packet'),
  stream: Buffer.from('muster-gossip/stream'),
};

function algorithm(key: Uint8Array): 'aes-128-gcm' | 'aes-192-gcm' | 'aes-256-gcm' {
  if (key.length === 16) return 'aes-128-gcm';
  if (key.length === 24) return 'aes-192-gcm';
  return 'aes-256-gcm';
}

/** Seals `plaintext` with `key` and a caller-supplied 12-byte nonce. */
export function seal(key: Uint8Array, plaintext: Uint8Array, nonce: Uint8Array, channel: Channel): Uint8Array {
  if (nonce.length !== NONCE_BYTES) throw new RangeError(`nonce must be ${NONCE_BYTES} bytes`);
  const cipher = createCipheriv(algorithm(key), key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(AAD[channel]);
  const body = cipher.update(plaintext);
  cipher.final(); // GCM produces no bytes at final
  const out = new Uint8Array(ENCRYPTION_OVERHEAD + body.length);
  out[0] = ENCRYPTION_VERSION;
  out.set(nonce, 1);
  out.set(body, 1 + NONCE_BYTES);
  out.set(cipher.getAuthTag(), 1 + NONCE_BYTES + body.length);
  return out;
}

export type Opened = { ok: true; plaintext: Uint8Array; keyIndex: number } | { ok: false; reason: DropReason };

function tryKey(key: Uint8Array, data: Uint8Array, channel: Channel): Uint8Array | undefined {
  try {
    const nonce = data.subarray(1, 1 + NONCE_BYTES);
    const body = data.subarray(1 + NONCE_BYTES, data.length - TAG_BYTES);
    const decipher = createDecipheriv(algorithm(key), key, nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(AAD[channel]);
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    const head = decipher.update(body);
    decipher.final(); // throws when the tag does not verify
    return new Uint8Array(head);
  } catch {
    return undefined;
  }
}

/**
 * Opens a sealed packet or frame with each key of the ring in turn. Never
 * throws: a failure says whether it was plaintext (a peer without
 * encryption) or could not be opened (another key, or garbage).
 */
export function open(keyring: Keyring, data: Uint8Array, channel: Channel): Opened {
  if (data.length < ENCRYPTION_OVERHEAD || data[0] !== ENCRYPTION_VERSION) {
    return { ok: false, reason: looksLikePlaintext(data) ? 'plaintext' : 'decrypt-failed' };
  }
  const keys = keyring.keys();
  for (let i = 0; i < keys.length; i++) {
    const plaintext = tryKey(keys[i] as Uint8Array, data, channel);
    if (plaintext) return { ok: true, plaintext, keyIndex: i };
  }
  return { ok: false, reason: 'decrypt-failed' };
}

/**
 * What a member without encryption makes of incoming bytes: plaintext passes;
 * something that is not plaintext but has the shape of a sealed message is
 * counted as 'unexpected-encryption' (a peer with a key), the rest is left to
 * the wire decoder to reject.
 */
export function acceptPlaintext(data: Uint8Array): Opened {
  if (!looksLikePlaintext(data) && data.length >= ENCRYPTION_OVERHEAD && data[0] === ENCRYPTION_VERSION) {
    return { ok: false, reason: 'unexpected-encryption' };
  }
  return { ok: true, plaintext: data, keyIndex: -1 };
}
