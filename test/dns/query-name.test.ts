import t from 'tap';
import { hexOfIp, isUnderDomain, normaliseDomain, parseQueryName, type Lookup } from '../../src/dns/query-name.js';

t.test('parseQueryName: Consul\'s name forms', async (t) => {
  const cases: Array<[string, Lookup | null]> = [
    ['consul', { kind: 'apex' }],
    ['consul.', { kind: 'apex' }],
    ['CONSUL.', { kind: 'apex' }],
    ['web.service.consul', { kind: 'service', service: 'web', tag: undefined, datacenter: undefined }],
    ['web.service.consul.', { kind: 'service', service: 'web', tag: undefined, datacenter: undefined }],
    ['Web.Service.Consul.', { kind: 'service', service: 'web', tag: undefined, datacenter: undefined }],
    ['web.service.dc1.consul', { kind: 'service', service: 'web', tag: undefined, datacenter: 'dc1' }],
    ['web.service.DC2.consul', { kind: 'service', service: 'web', tag: undefined, datacenter: 'dc2' }],
    ['v1.web.service.consul', { kind: 'service', service: 'web', tag: 'v1', datacenter: undefined }],
    ['a.b.web.service.consul', { kind: 'service', service: 'web', tag: 'a.b', datacenter: undefined }],
    ['_web._v1.service.consul', { kind: 'service', service: 'web', tag: 'v1', datacenter: undefined }],
    ['_web._tcp.service.consul', { kind: 'service', service: 'web', tag: undefined, datacenter: undefined }],
    ['_web._tcp.service.dc1.consul', { kind: 'service', service: 'web', tag: undefined, datacenter: 'dc1' }],
    ['_web._udp.consul', { kind: 'service', service: 'web', tag: 'udp', datacenter: undefined }],
    ['_web._tcp.dc1.consul', { kind: 'service', service: 'web', tag: undefined, datacenter: 'dc1' }],
    ['n1.node.consul', { kind: 'node', node: 'n1', datacenter: undefined }],
    ['N1.node.dc1.consul.', { kind: 'node', node: 'n1', datacenter: 'dc1' }],
    ['host.example.node.consul', { kind: 'node', node: 'host.example', datacenter: undefined }],
    ['7f000001.addr.dc1.consul', { kind: 'addr', ip: '127.0.0.1', datacenter: 'dc1' }],
    ['20010db8000000000000000000000001.addr.consul', { kind: 'addr', ip: '2001:0db8:0000:0000:0000:0000:0000:0001', datacenter: undefined }],
    // names that ask for nothing
    ['service.consul', null],
    ['node.consul', null],
    ['web.consul', null],
    ['web.service.dc1.extra.consul', null],
    ['web..service.consul', null],
    ['_web.service.consul', { kind: 'service', service: '_web', tag: undefined, datacenter: undefined }],
    ['__._v1.service.consul', { kind: 'service', service: '_', tag: 'v1', datacenter: undefined }],
    ['_._v1.service.consul', null],
    ['zz000001.addr.consul', null],
    ['7f0001.addr.consul', null],
    ['a.7f000001.addr.consul', null],
    // outside the domain
    ['web.service.example.com', null],
    ['example.com', null],
    ['notconsul', null],
    ['', null],
  ];
  for (const [name, want] of cases) t.same(parseQueryName(name, 'consul.'), want, JSON.stringify(name));
});

t.test('another domain', async (t) => {
  t.same(parseQueryName('web.service.muster.internal.', 'Muster.Internal.'), { kind: 'service', service: 'web', tag: undefined, datacenter: undefined });
  t.equal(parseQueryName('web.service.consul.', 'muster.internal.'), null);
  t.equal(normaliseDomain('.Muster.Internal.'), 'muster.internal');
});

t.test('isUnderDomain', async (t) => {
  t.ok(isUnderDomain('consul.', 'consul.'));
  t.ok(isUnderDomain('Anything.At.All.CONSUL', 'consul.'));
  t.notOk(isUnderDomain('example.com', 'consul.'));
  t.notOk(isUnderDomain('notconsul', 'consul.'));
  t.notOk(isUnderDomain('.', 'consul.'));
});

t.test('hexOfIp: the inverse of .addr. names', async (t) => {
  const cases: Array<[string, string | undefined]> = [
    ['127.0.0.1', '7f000001'],
    ['10.0.0.5', '0a000005'],
    ['::1', '00000000000000000000000000000001'],
    ['2001:db8::1', '20010db8000000000000000000000001'],
    ['fe80::', 'fe800000000000000000000000000000'],
    ['1:2:3:4:5:6:7:8', '00010002000300040005000600070008'],
    ['256.0.0.1', undefined],
    ['example.com', undefined],
    ['1::2::3', undefined],
    ['1:2:3', undefined],
  ];
  for (const [ip, want] of cases) t.equal(hexOfIp(ip), want, ip);
  for (const [ip, hex] of cases) {
    if (hex === undefined) continue;
    const back = parseQueryName(`${hex}.addr.consul`, 'consul');
    t.equal(back?.kind, 'addr', `${ip} round-trips`);
  }
});
