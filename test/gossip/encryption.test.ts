import t from 'tap';
import { randomBytes } from 'node:crypto';
import { acceptPlaintext, ENCRYPTION_OVERHEAD, ENCRYPTION_VERSION, open, seal } from '../../src/gossip/encryption.js';
import { GossipKeyError } from '../../src/gossip/errors.js';
import { decodeKey, generateKey, Keyring } from '../../src/gossip/keyring.js';
import { encodePacket } from '../../src/gossip/wire.js';

const rand = (n: number) => new Uint8Array(randomBytes(n));
const packet = encodePacket([{ type: 'ping', seq: 1, target: 'b', source: 'a' }]);

t.test('seal then open, for each key size', async (t) => {
  for (const size of [16, 24, 32]) {
    t.test(`${size}-byte key`, async (t) => {
      const ring = new Keyring([rand(size)]);
      const sealed = seal(ring.primaryKey, packet, rand(12), 'packet');
      t.equal(sealed.length, packet.length + ENCRYPTION_OVERHEAD, 'version + nonce + tag: 29 bytes');
      t.equal(sealed[0], ENCRYPTION_VERSION);
      t.same(open(ring, sealed, 'packet'), { ok: true, plaintext: packet, keyIndex: 0 });
    });
  }
});

t.test('open refuses', async (t) => {
  const ring = new Keyring([rand(32)]);
  const sealed = seal(ring.primaryKey, packet, rand(12), 'packet');
  t.test('another key', async (t) => t.match(open(new Keyring([rand(32)]), sealed, 'packet'), { ok: false, reason: 'decrypt-failed' }));
  t.test('plaintext', async (t) => t.match(open(ring, packet, 'packet'), { ok: false, reason: 'plaintext' }));
  t.test('a flipped bit anywhere', async (t) => {
    let refused = 0;
    for (let i = 0; i < sealed.length; i++) {
      const bad = new Uint8Array(sealed);
      bad[i] = (bad[i] as number) ^ 0x10;
      if (!open(ring, bad, 'packet').ok) refused++;
    }
    t.equal(refused, sealed.length);
  });
  t.test('truncated', async (t) => {
    for (const n of [0, 1, 13, 28, sealed.length - 1]) t.match(open(ring, sealed.subarray(0, n), 'packet'), { ok: false });
  });
  t.test('a packet replayed as a stream frame', async (t) => t.match(open(ring, sealed, 'stream'), { ok: false, reason: 'decrypt-failed' }));
  t.test('an unknown encryption version', async (t) => {
    const bad = new Uint8Array(sealed);
    bad[0] = 7;
    t.match(open(ring, bad, 'packet'), { ok: false, reason: 'decrypt-failed' });
  });
});

t.test('a member without encryption tells sealed input apart', async (t) => {
  const sealed = seal(rand(32), packet, rand(12), 'packet');
  t.match(acceptPlaintext(sealed), { ok: false, reason: 'unexpected-encryption' });
  t.match(acceptPlaintext(packet), { ok: true, plaintext: packet });
});

t.test('keyring rotation: every installed key opens, the primary seals', async (t) => {
  const oldKey = rand(32);
  const newKey = rand(32);
  const ring = new Keyring([oldKey]);
  const fromOld = seal(oldKey, packet, rand(12), 'stream');
  ring.addKey(newKey);
  ring.addKey(newKey);
  t.equal(ring.keys().length, 2, 'adding twice installs once');
  ring.useKey(newKey);
  t.same(ring.primaryKey, newKey);
  t.match(open(ring, fromOld, 'stream'), { ok: true, keyIndex: 1 }, 'the old key still opens');
  t.throws(() => ring.removeKey(newKey), GossipKeyError, 'the primary key stays');
  ring.removeKey(oldKey);
  t.match(open(ring, fromOld, 'stream'), { ok: false, reason: 'decrypt-failed' });
  t.throws(() => ring.useKey(oldKey), { code: 'ERR_GOSSIP_KEY' });
});

t.test('keys are base64 of 16, 24 or 32 bytes', async (t) => {
  const key = generateKey(rand);
  t.equal(decodeKey(key).length, 32);
  t.equal(Keyring.fromBase64(key, generateKey(rand)).keys().length, 2);
  for (const bad of ['', 'not base64!', Buffer.from(rand(20)).toString('base64'), 'AAAA']) {
    t.throws(() => decodeKey(bad), { code: 'ERR_GOSSIP_KEY' }, JSON.stringify(bad));
  }
  t.throws(() => new Keyring([]), { code: 'ERR_GOSSIP_KEY' });
  t.throws(() => new Keyring([rand(10)]), { code: 'ERR_GOSSIP_KEY' });
});
