import { GossipKeyError } from './errors.js';

/**
 * The encryption keys of a gossip pool, as Serf's keyring: one primary key
 * seals everything this member sends; every installed key is tried to open
 * what it receives, so a pool can rotate keys without a flag day (install the
 * new key everywhere, make it primary everywhere, remove the old one).
 *
 * Keys are 16, 24 or 32 random bytes (AES-128, -192, -256), written in base64
 * as `consul keygen` prints them; `-encrypt` takes a 32-byte one.
 */
export const KEY_SIZES: readonly number[] = [16, 24, 32];

/** Decodes a base64 key and checks its size; throws GossipKeyError. */
export function decodeKey(base64: string): Uint8Array {
  const text = base64.trim();
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0 || text.length === 0) {
    throw new GossipKeyError('encryption key is not valid base64');
  }
  const key = new Uint8Array(Buffer.from(text, 'base64'));
  if (!KEY_SIZES.includes(key.length)) {
    throw new GossipKeyError(`encryption key must be 16, 24 or 32 bytes, not ${key.length}`);
  }
  return key;
}

/** A new 32-byte key in base64 (what `muster keygen` prints); the caller supplies the randomness. */
export function generateKey(randomBytes: (n: number) => Uint8Array): string {
  return Buffer.from(randomBytes(32)).toString('base64');
}

function sameKey(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

export class Keyring {
  private ring: Uint8Array[];

  /** `keys[0]` is the primary key. At least one key; each 16, 24 or 32 bytes. */
  constructor(keys: readonly Uint8Array[]) {
    if (keys.length === 0) throw new GossipKeyError('a keyring needs at least one key');
    for (const k of keys) {
      if (!KEY_SIZES.includes(k.length)) throw new GossipKeyError(`encryption key must be 16, 24 or 32 bytes, not ${k.length}`);
    }
    this.ring = keys.map((k) => new Uint8Array(k));
  }

  /** A keyring from base64 keys, the first one primary. */
  static fromBase64(primary: string, ...others: string[]): Keyring {
    return new Keyring([primary, ...others].map(decodeKey));
  }

  get primaryKey(): Uint8Array {
    return this.ring[0] as Uint8Array;
  }

  /** Every installed key, primary first (decryption tries them in this order). */
  keys(): readonly Uint8Array[] {
    return this.ring;
  }

  /** Installs a key for decryption (no effect if present). */
  addKey(key: Uint8Array): void {
    if (!KEY_SIZES.includes(key.length)) throw new GossipKeyError(`encryption key must be 16, 24 or 32 bytes, not ${key.length}`);
    if (!this.ring.some((k) => sameKey(k, key))) this.ring.push(new Uint8Array(key));
  }

  /** Makes an installed key the primary one. */
  useKey(key: Uint8Array): void {
    const i = this.ring.findIndex((k) => sameKey(k, key));
    if (i < 0) throw new GossipKeyError('cannot make a key primary before it is installed');
    const [k] = this.ring.splice(i, 1);
    this.ring.unshift(k as Uint8Array);
  }

  /** Removes a key; the primary key cannot be removed. */
  removeKey(key: Uint8Array): void {
    if (sameKey(this.primaryKey, key)) throw new GossipKeyError('cannot remove the primary key');
    this.ring = this.ring.filter((k) => !sameKey(k, key));
  }
}
