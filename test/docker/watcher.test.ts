import t from 'tap';
import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import { watchDocker, parseEvent, type ContainerEvent } from '../../src/docker/watcher.js';
import { silentLogger } from '../../src/log.js';
import { waitFor } from '../helpers/wait.js';

/** A back-off that takes no time but lets timers run (an immediately resolved promise would starve them). */
const yieldOnce = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A Docker client whose event streams the test feeds and cuts, and which can be "down". */
function fakeDocker() {
  const streams: PassThrough[] = [];
  const state = { down: false, subscriptions: 0 };
  const docker = {
    getEvents: () => {
      state.subscriptions++;
      if (state.down) return Promise.reject(new Error('connect ENOENT /var/run/docker.sock'));
      const s = new PassThrough();
      streams.push(s);
      return Promise.resolve(s);
    },
  } as unknown as Docker;
  return { docker, streams, state };
}

t.test('events are parsed from newline-delimited JSON, split across chunks', async (t) => {
  const { docker, streams } = fakeDocker();
  const abort = new AbortController();
  t.teardown(() => abort.abort());
  const events: ContainerEvent[] = [];
  const done = watchDocker(docker, { onConnected: () => Promise.resolve(), onEvent: (e) => events.push(e) },
    { signal: abort.signal, log: silentLogger(), sleep: () => Promise.resolve() });
  await waitFor(() => streams.length === 1);
  const line = JSON.stringify({ Type: 'container', Action: 'start', Actor: { ID: 'abc', Attributes: { name: 'web' } }, timeNano: 5 });
  streams[0]!.write(line.slice(0, 10));
  streams[0]!.write(`${line.slice(10)}\n{"Action":"die","Actor":{"ID":"abc","Attributes":{"exitCode":"1"}}}\nnot json\n`);
  await waitFor(() => events.length === 2);
  t.same(events.map((e) => e.status), ['start', 'die']);
  t.equal(events[1]?.attributes.exitCode, '1');
  abort.abort();
  await done;
});

t.test('a closed stream or an engine that is away means: back off, reconnect, sync again', async (t) => {
  const { docker, streams, state } = fakeDocker();
  const abort = new AbortController();
  t.teardown(() => abort.abort());
  const connects: boolean[] = [];
  const delays: number[] = [];
  const done = watchDocker(docker, {
    onConnected: (reconnect) => { connects.push(reconnect); return Promise.resolve(); },
    onEvent: () => {},
  }, { signal: abort.signal, log: silentLogger(), minDelayMs: 100, maxDelayMs: 400, sleep: (ms) => { delays.push(ms); return yieldOnce(); } });
  await waitFor(() => connects.length === 1);
  state.down = true;
  streams[0]!.end(); // dockerd went away
  await waitFor(() => state.subscriptions >= 5);
  state.down = false;
  await waitFor(() => connects.length === 2);
  t.same(connects, [false, true], 'the second sync is a reconnect');
  t.same(delays.slice(0, 4), [100, 200, 400, 400], 'back-off doubles and is capped');
  abort.abort();
  await done;
  t.pass('the watcher returns once aborted');
});

t.test('a failed sync after connecting is retried through a reconnect', async (t) => {
  const { docker } = fakeDocker();
  const abort = new AbortController();
  t.teardown(() => abort.abort());
  let syncs = 0;
  const done = watchDocker(docker, {
    onConnected: () => (++syncs < 3 ? Promise.reject(new Error('list failed')) : Promise.resolve()),
    onEvent: () => {},
  }, { signal: abort.signal, log: silentLogger(), sleep: yieldOnce });
  await waitFor(() => syncs === 3);
  abort.abort();
  await done;
  t.equal(syncs, 3);
});

t.test('parseEvent reads old and new engine formats and refuses garbage', async (t) => {
  t.same(parseEvent('{"status":"start","id":"x"}'), { status: 'start', id: 'x', attributes: {} });
  t.equal(parseEvent('{"Action":"start"}'), undefined, 'no id');
  t.equal(parseEvent('[1,2]'), undefined);
  t.equal(parseEvent('{'), undefined);
  t.equal(parseEvent('{"Action":"health_status: healthy","Actor":{"ID":"y"}}')?.status, 'health_status: healthy');
});
