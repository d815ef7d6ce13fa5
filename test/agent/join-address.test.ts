import t from 'tap';
import { resolveJoinAddresses, type HostLookup } from '../../src/agent/join-address.js';

const records: Record<string, Array<{ address: string; family: number }>> = {
  'muster-server': [{ address: '172.20.0.2', family: 4 }, { address: '172.20.0.3', family: 4 }, { address: '172.20.0.4', family: 4 }],
  s1: [{ address: '172.20.0.2', family: 4 }],
  dual: [{ address: '10.0.0.1', family: 4 }, { address: 'fd00::1', family: 6 }],
};
const lookup: HostLookup = async (host) => {
  const found = records[host];
  if (found) return found;
  throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
};

t.test('-join and -retry-join addresses', async (t) => {
  const cases: Array<{ name: string; in: string[]; resolved: string[]; unresolved?: string[] }> = [
    { name: 'an IP gets the default port', in: ['10.0.0.5'], resolved: ['10.0.0.5:8301'] },
    { name: 'an IP and port stay', in: ['127.0.0.1:18301'], resolved: ['127.0.0.1:18301'] },
    { name: 'IPv6 in brackets', in: ['[::1]', '[fd00::2]:9301'], resolved: ['[::1]:8301', '[fd00::2]:9301'] },
    { name: 'a compose service name joins every address it has', in: ['muster-server'], resolved: ['172.20.0.2:8301', '172.20.0.3:8301', '172.20.0.4:8301'] },
    { name: 'a name with a port', in: ['s1:9301'], resolved: ['172.20.0.2:9301'] },
    { name: 'both families', in: ['dual'], resolved: ['10.0.0.1:8301', '[fd00::1]:8301'] },
    { name: 'an address reached twice counts once', in: ['s1', '172.20.0.2'], resolved: ['172.20.0.2:8301'] },
    { name: 'an unknown name is reported, the rest still joined', in: ['nope', 's1'], resolved: ['172.20.0.2:8301'], unresolved: ['nope'] },
    { name: 'garbage', in: ['a b', 'x:99999'], resolved: [], unresolved: ['a b', 'x:99999'] },
  ];
  for (const c of cases) {
    t.test(c.name, async (t) => {
      const got = await resolveJoinAddresses(c.in, 8301, lookup);
      t.same(got.resolved, c.resolved);
      t.same(got.unresolved.map((u) => u.address), c.unresolved ?? []);
    });
  }
  t.test('the error names what failed', async (t) => {
    const got = await resolveJoinAddresses(['nope'], 8301, lookup);
    t.match(got.unresolved[0]?.error, /cannot resolve nope \(ENOTFOUND\)/);
  });
  t.test('the system resolver resolves localhost', async (t) => {
    const got = await resolveJoinAddresses(['localhost:18301'], 8301);
    t.ok(got.resolved.includes('127.0.0.1:18301') || got.resolved.includes('[::1]:18301'), got.resolved.join(' '));
  });
});
