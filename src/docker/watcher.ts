import type Docker from 'dockerode';
import type { Logger } from '../log.js';
import { errorMessage } from '../errors.js';
import { sleep as defaultSleep } from '../time.js';

/** A container event as the Engine sends it (the fields we read). */
export interface ContainerEvent {
  /** start, die, destroy, health_status: healthy, rename, ... */
  status: string;
  id: string;
  /** Unix time in nanoseconds. */
  timeNano?: number;
  attributes: Record<string, string>;
}

export interface WatcherHandlers {
  /** After every (re)connect, once the event stream is open: a full sync. Throwing makes the watcher reconnect. */
  onConnected(reconnect: boolean): Promise<void>;
  onEvent(event: ContainerEvent): void;
}

export interface WatcherOptions {
  signal: AbortSignal;
  log: Logger;
  minDelayMs?: number;
  maxDelayMs?: number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/**
 * Follows the Engine's container events for as long as the signal allows.
 * Subscribes before syncing, so nothing that happens during the sync is
 * missed. A dropped stream, a failed sync or an engine that is away means:
 * log, back off (doubling, capped), reconnect, sync again. It never gives up.
 */
export async function watchDocker(docker: Docker, handlers: WatcherHandlers, opts: WatcherOptions): Promise<void> {
  const { signal, log } = opts;
  const sleep = opts.sleep ?? defaultSleep;
  const min = opts.minDelayMs ?? 500;
  const max = opts.maxDelayMs ?? 30_000;
  let failures = 0;
  let connectedBefore = false;
  while (!signal.aborted) {
    let stream: NodeJS.ReadableStream | undefined;
    try {
      stream = await docker.getEvents({ filters: { type: ['container'] } });
      const closeOnAbort = () => (stream as unknown as { destroy?: () => void }).destroy?.();
      signal.addEventListener('abort', closeOnAbort, { once: true });
      try {
        await handlers.onConnected(connectedBefore);
        if (failures > 0 || connectedBefore) log.info({ attempts: failures }, 'docker events reconnected');
        else log.info('listening for docker events');
        connectedBefore = true;
        failures = 0;
        await readEvents(stream, handlers, log);
        if (!signal.aborted) throw new Error('docker event stream closed');
      } finally {
        signal.removeEventListener('abort', closeOnAbort);
      }
    } catch (err) {
      (stream as unknown as { destroy?: () => void } | undefined)?.destroy?.();
      if (signal.aborted) break;
      failures++;
      const delay = Math.min(max, min * 2 ** Math.min(failures - 1, 16));
      const level = failures === 1 || failures % 10 === 0 ? 'warn' : 'debug';
      log[level]({ err: errorMessage(err), retryInMs: delay, attempt: failures }, 'docker unavailable; will reconnect');
      try { await sleep(delay, signal); } catch { break; }
    }
  }
}

/** Reads newline-delimited JSON events until the stream ends. */
async function readEvents(stream: NodeJS.ReadableStream, handlers: WatcherHandlers, log: Logger): Promise<void> {
  let buffer = '';
  for await (const chunk of stream as AsyncIterable<Buffer | string>) {
    buffer += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl).trim();
      buffer = buffer.slice(nl + 1);
      if (line === '') continue;
      const event = parseEvent(line);
      if (!event) { log.debug({ line: line.slice(0, 200) }, 'unreadable docker event'); continue; }
      try {
        handlers.onEvent(event);
      } catch (err) {
        log.warn({ err: errorMessage(err), container: event.id.slice(0, 12) }, 'docker event handler failed');
      }
    }
  }
}

export function parseEvent(line: string): ContainerEvent | undefined {
  let raw: unknown;
  try { raw = JSON.parse(line); } catch { return undefined; }
  if (typeof raw !== 'object' || raw === null) return undefined;
  const r = raw as { status?: unknown; Action?: unknown; id?: unknown; Actor?: { ID?: unknown; Attributes?: unknown }; timeNano?: unknown };
  const status = typeof r.Action === 'string' ? r.Action : typeof r.status === 'string' ? r.status : undefined;
  const id = typeof r.Actor?.ID === 'string' ? r.Actor.ID : typeof r.id === 'string' ? r.id : undefined;
  if (!status || !id) return undefined;
  const attributes: Record<string, string> = {};
  if (r.Actor?.Attributes && typeof r.Actor.Attributes === 'object') {
    for (const [k, v] of Object.entries(r.Actor.Attributes as Record<string, unknown>)) if (typeof v === 'string') attributes[k] = v;
  }
  const event: ContainerEvent = { status, id, attributes };
  if (typeof r.timeNano === 'number') event.timeNano = r.timeNano;
  return event;
}
