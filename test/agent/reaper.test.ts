import t from 'tap';
import { LocalState } from '../../src/agent/local-state.js';
import { CriticalReaper } from '../../src/agent/reaper.js';
import { resolveCheck, resolveServiceChecks } from '../../src/agent/validate.js';
import type { CheckDefinition } from '../../src/agent/definition.js';
import { serviceDef } from '../helpers/in-process.js';

const MINUTE = 60_000;

/** Local state and a reaper on a clock that moves only when the test says so. */
function setup() {
  const clock = { ms: 1_000_000, now() { return this.ms; } };
  const local = new LocalState(clock, () => {});
  const reaped: Array<[string, string]> = [];
  const reaper = new CriticalReaper(local, clock, (serviceId, checkId) => reaped.push([serviceId, checkId]));
  const addService = (id: string, checks: CheckDefinition[]) => {
    const def = serviceDef(id, id, { checks });
    local.addService(def, resolveServiceChecks(def, { scriptChecks: false }), false);
  };
  return { clock, local, reaper, reaped, addService };
}

t.test('a service is due once its check has been critical for DeregisterCriticalServiceAfter', async (t) => {
  const { clock, reaper, addService } = setup();
  addService('web1', [{ ttlMs: 10_000, deregisterCriticalServiceAfterMs: MINUTE }]); // critical from the start
  t.same(reaper.due(), [], 'just registered');
  clock.ms += MINUTE - 1;
  t.same(reaper.due(), [], 'one ms early');
  clock.ms += 1;
  t.same(reaper.due(), [['web1', 'service:web1']], 'on time');
  clock.ms += 10 * MINUTE;
  t.same(reaper.due(), [['web1', 'service:web1']], 'and after');
});

t.test('passing resets the critical clock', async (t) => {
  const { clock, local, reaper, addService } = setup();
  addService('web1', [{ ttlMs: 10_000, deregisterCriticalServiceAfterMs: MINUTE }]);
  clock.ms += MINUTE - 1000;
  local.setStatus('service:web1', 'passing', 'ok');
  clock.ms += 10 * MINUTE;
  t.same(reaper.due(), [], 'passing is never due');
  local.setStatus('service:web1', 'critical', 'down');
  clock.ms += MINUTE - 1;
  t.same(reaper.due(), [], 'counted from the new critical');
  local.setStatus('service:web1', 'critical', 'still down'); // output changes do not restart the clock
  clock.ms += 1;
  t.same(reaper.due(), [['web1', 'service:web1']]);
});

t.test('warning is not critical', async (t) => {
  const { clock, local, reaper, addService } = setup();
  addService('web1', [{ ttlMs: 10_000, deregisterCriticalServiceAfterMs: MINUTE }]);
  local.setStatus('service:web1', 'warning', '');
  clock.ms += 10 * MINUTE;
  t.same(reaper.due(), []);
});

t.test('what is never due', async (t) => {
  const { clock, local, reaper, addService } = setup();
  addService('plain', [{ ttlMs: 10_000 }]); // no DeregisterCriticalServiceAfter
  addService('zero', [{ ttlMs: 10_000, deregisterCriticalServiceAfterMs: 0 }]);
  local.addCheck(resolveCheck({ name: 'node-level', ttlMs: 10_000, deregisterCriticalServiceAfterMs: MINUTE }, { scriptChecks: false }));
  clock.ms += 60 * MINUTE;
  t.same(reaper.due(), [], 'no limit, a zero limit, or no service to deregister');
});

t.test('one entry per service, naming the first condemned check; several services', async (t) => {
  const { clock, reaper, reaped, addService } = setup();
  addService('web1', [
    { checkId: 'a', ttlMs: 10_000, deregisterCriticalServiceAfterMs: MINUTE },
    { checkId: 'b', ttlMs: 10_000, deregisterCriticalServiceAfterMs: MINUTE },
  ]);
  clock.ms += 30_000;
  addService('db1', [{ ttlMs: 10_000, deregisterCriticalServiceAfterMs: MINUTE }]);
  clock.ms += 30_000;
  t.same(reaper.due(), [['web1', 'a']], 'db1 has 30 s to go');
  clock.ms += 30_000;
  t.same(reaper.due(), [['web1', 'a'], ['db1', 'service:db1']]);
  reaper.runOnce();
  t.same(reaped, [['web1', 'a'], ['db1', 'service:db1']], 'runOnce hands each due service to the callback');
});

t.test('a check registered passing starts its clock when it turns critical', async (t) => {
  const { clock, local, reaper, addService } = setup();
  addService('web1', [{ ttlMs: 10_000, status: 'passing', deregisterCriticalServiceAfterMs: MINUTE }]);
  clock.ms += 5 * MINUTE;
  local.setStatus('service:web1', 'critical', 'TTL expired');
  clock.ms += MINUTE - 1;
  t.same(reaper.due(), []);
  clock.ms += 1;
  t.same(reaper.due(), [['web1', 'service:web1']]);
});

t.test('LocalState: what a change is', async (t) => {
  let changes = 0;
  const local = new LocalState({ now: () => 0 }, () => { changes++; });
  const def = serviceDef('web1', 'web', { checks: [{ ttlMs: 10_000 }] });
  local.addService(def, resolveServiceChecks(def, { scriptChecks: false }), false);
  t.equal(changes, 1, 'adding a service');
  t.equal(local.setStatus('service:web1', 'critical', ''), true);
  t.equal(changes, 1, 'the same status and output is no change');
  local.setStatus('service:web1', 'passing', 'ok');
  t.equal(changes, 2, 'a new status is');
  t.equal(local.setStatus('nope', 'passing', ''), false, 'an unknown check');
  t.equal(local.removeCheck('nope'), false);
  t.equal(changes, 2, 'unknown ids change nothing');
  t.same(local.removeService('web1'), ['service:web1'], 'removing a service reports its checks');
  t.equal(local.removeService('web1'), undefined, 'a second time: unknown');
  t.equal(changes, 3);
});
