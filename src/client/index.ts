/** The public API of the Muster (and Consul) HTTP client. */
export {
  MusterClient, MusterClient as ConsulClient, DEFAULT_ADDRESS, DEFAULT_TIMEOUT_MS, DEFAULT_BLOCKING_WAIT_MS,
  resolveAddress, encodePath, isServerError, queryMeta,
  type MusterClientOptions, type QueryOptions, type WriteOptions, type QueryMeta, type Indexed,
  type ApiResponse, type RequestOptions, type QueryParams,
} from './client.js';
export {
  Kv, type KvPair, type KvValue, type KvPutOptions, type KvDeleteOptions, type KvKeysOptions,
  type KvTxnOp, type KvTxnVerb, type KvTxnResult,
} from './kv.js';
export { Sessions, type SessionCreateOptions, type SessionInfo, type SessionBehavior, type RenewOptions } from './session.js';
export {
  Catalog, type CatalogNode, type CatalogService, type CatalogNodeServices, type CatalogServiceOptions, type AgentServiceEntry,
} from './catalog.js';
export { Health, type HealthCheck, type HealthState, type ServiceEntry, type HealthServiceOptions } from './health.js';
export { AgentApi, type AgentSelf, type ServiceRegistration, type RegisterServiceOptions } from './agent.js';
export { watch, watchKey, watchPrefix, watchPath, type BlockingQuery, type WatchOptions, type WatchEvent } from './watch.js';
export { backoffDelayMs, retryOptions, type RetryOptions, type Sleep } from './retry.js';
export {
  Lock, withLock, LOCK_FLAG_VALUE, DEFAULT_LOCK_SESSION_NAME, DEFAULT_LOCK_SESSION_TTL, DEFAULT_LOCK_WAIT_TIME_MS,
  DEFAULT_LOCK_RETRY_TIME_MS, DEFAULT_MONITOR_RETRY_TIME_MS, type LockOptions, type WithLockOptions,
} from './lock.js';
export {
  Semaphore, withSemaphore, SEMAPHORE_FLAG_VALUE, DEFAULT_SEMAPHORE_SESSION_NAME, DEFAULT_SEMAPHORE_SESSION_TTL,
  DEFAULT_SEMAPHORE_WAIT_TIME_MS, DEFAULT_SEMAPHORE_KEY, type SemaphoreOptions, type WithSemaphoreOptions,
} from './semaphore.js';
export { joinKey } from './key-path.js';
export { parseJsonExact } from './wire.js';
export { MusterError, isMusterError, type ErrorCode } from '../errors.js';
