import t from 'tap';
import { defaultLanConfig, defaultLocalConfig, defaultWanConfig, validateGossipConfig } from '../../src/gossip/config.js';
import { GossipConfigError } from '../../src/gossip/errors.js';

t.test('defaultLanConfig has memberlist\'s LAN values and is frozen', async (t) => {
  const c = defaultLanConfig();
  t.match(c, {
    probeIntervalMs: 1000, probeTimeoutMs: 500, indirectChecks: 3, suspicionMult: 4, suspicionMaxTimeoutMult: 6,
    retransmitMult: 6, gossipIntervalMs: 200, gossipNodes: 3, pushPullIntervalMs: 30_000, awarenessMaxMultiplier: 8,
    deadNodeReclaimTimeMs: 0, gossipToTheDeadTimeMs: 30_000, udpBufferSize: 1400, tcpTimeoutMs: 10_000,
  });
  t.ok(Object.isFrozen(c));
  t.same(validateGossipConfig(c), c, 'the defaults validate');
});

t.test('WAN and local configs override only what memberlist overrides', async (t) => {
  const lan = defaultLanConfig();
  const diff = (c: object) => Object.fromEntries(Object.entries(c).filter(([k, v]) => lan[k as keyof typeof lan] !== v));
  t.same(diff(defaultWanConfig()), {
    tcpTimeoutMs: 30_000, suspicionMult: 6, pushPullIntervalMs: 60_000, probeTimeoutMs: 3000, probeIntervalMs: 5000,
    gossipNodes: 4, gossipIntervalMs: 500, gossipToTheDeadTimeMs: 60_000,
  });
  t.same(diff(defaultLocalConfig()), {
    tcpTimeoutMs: 1000, indirectChecks: 1, retransmitMult: 2, suspicionMult: 3, pushPullIntervalMs: 15_000,
    probeTimeoutMs: 200, gossipIntervalMs: 100, gossipToTheDeadTimeMs: 15_000,
  });
  t.ok(Object.isFrozen(defaultWanConfig()) && Object.isFrozen(defaultLocalConfig()));
  t.same(validateGossipConfig({}, defaultWanConfig()), defaultWanConfig());
});

t.test('validateGossipConfig', async (t) => {
  t.test('fills from the base and freezes', async (t) => {
    const c = validateGossipConfig({ gossipNodes: 4 });
    t.equal(c.gossipNodes, 4);
    t.equal(c.probeIntervalMs, 1000);
    t.ok(Object.isFrozen(c));
  });

  t.test('reports every problem at once, with a stable code', async (t) => {
    const err = t.throws(() => validateGossipConfig({ probeIntervalMs: 0, gossipNodes: 1.5, udpBufferSize: 100 })) as GossipConfigError;
    t.equal(err.code, 'ERR_GOSSIP_CONFIG');
    t.equal(err.problems.length, 3);
    t.match(err.problems.join('\n'), /probeIntervalMs must be between 1/);
    t.match(err.problems.join('\n'), /gossipNodes must be an integer/);
    t.match(err.problems.join('\n'), /udpBufferSize must be between 1024/);
  });

  t.test('rejects a probe timeout not shorter than the probe interval', async (t) => {
    const err = t.throws(() => validateGossipConfig({ probeIntervalMs: 500, probeTimeoutMs: 500 })) as GossipConfigError;
    t.match(err.problems, [/probeTimeoutMs \(500\) must be less than probeIntervalMs \(500\)/]);
  });

  t.test('rejects unknown fields (a typo must not pass silently)', async (t) => {
    const err = t.throws(() => validateGossipConfig({ probeIntervalMS: 10 } as never)) as GossipConfigError;
    t.match(err.problems, ['unknown field probeIntervalMS']);
  });
});
