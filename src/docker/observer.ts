/**
 * What the sidecar reports as it works, for metrics. Optional: the
 * standalone `muster sidecar` runs without one. Calls never throw into the
 * sidecar and never wait.
 */
export interface SidecarObserver {
  /** A Docker container event was handled (`start`, `die`, `health_status`, ...: the action before any `:`). */
  eventHandled(action: string): void;
  /**
   * The registry accepted a registration. `sinceEventMs` is the time from the
   * arrival of the Docker event that caused it; undefined when a full
   * reconciliation caused it.
   */
  registered(sinceEventMs: number | undefined): void;
  /** The registry accepted a deregistration. */
  deregistered(): void;
  /** A full reconciliation finished: the changes it queued. */
  reconciled(result: { registered: number; removed: number }): void;
}
