// The DNS test helpers: dig's output parsed into sections, and a missing dig
// failing the test under CI instead of skipping it.
import t from 'tap';
import type { Test } from 'tap';
import { parseDig, requireDig } from './dns.js';

const SAMPLE = `
; <<>> DiG 9.18.28-1~deb12u2-Debian <<>> @127.0.0.1 -p 8600 web.service.consul SRV
;; global options: +cmd
;; Got answer:
;; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 1234
;; flags: qr aa tc rd; QUERY: 1, ANSWER: 1, AUTHORITY: 0, ADDITIONAL: 1

;; QUESTION SECTION:
;web.service.consul.\t\tIN\tSRV

;; ANSWER SECTION:
web.service.consul.\t0\tIN\tSRV\t1 1 8081 n1.node.dc1.consul.

;; ADDITIONAL SECTION:
n1.node.dc1.consul.\t0\tIN\tA\t127.0.0.1

;; Query time: 0 msec
`;

t.test('parseDig', async (t) => {
  const r = parseDig(SAMPLE);
  t.equal(r.status, 'NOERROR');
  t.same(r.flags, ['qr', 'aa', 'tc', 'rd']);
  t.same(r.answer, [['web.service.consul.', '0', 'IN', 'SRV', '1', '1', '8081', 'n1.node.dc1.consul.']]);
  t.same(r.authority, []);
  t.same(r.additional, [['n1.node.dc1.consul.', '0', 'IN', 'A', '127.0.0.1']]);
});

t.test('requireDig without dig', async (t) => {
  const bin = '/nonexistent/dig';
  t.test('fails the test under CI', async (t) => {
    const fake = fakeTest();
    t.equal(requireDig(fake.t, { bin, ci: true }), undefined);
    t.equal(fake.failed.length, 1);
    t.match(fake.failed[0], /dig required under CI=true/);
    t.same(fake.skipped, [], 'not skipped');
  });
  t.test('skips the test elsewhere', async (t) => {
    const fake = fakeTest();
    t.equal(requireDig(fake.t, { bin, ci: false }), undefined);
    t.same(fake.failed, []);
    t.match(fake.skipped[0], /dig not available/);
  });
});

function fakeTest(): { t: Test; failed: string[]; skipped: string[] } {
  const failed: string[] = [];
  const skipped: string[] = [];
  const fake = {
    fail: (message: string) => { failed.push(message); return false; },
    plan: (n: number, reason: string) => { if (n === 0) skipped.push(reason); },
    skip: (reason: string) => { skipped.push(reason); },
  };
  return { t: fake as unknown as Test, failed, skipped };
}
