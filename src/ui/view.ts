/** What a view gets when it is shown; `signal` aborts when the user leaves it. */
export interface ViewContext {
  main: HTMLElement;
  signal: AbortSignal;
  /** The connection indicator in the header. */
  connection: {
    failed(err: Error, retryInMs: number): void;
    ok(): void;
  };
  navigate(hash: string): void;
}
