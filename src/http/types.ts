import type { IncomingHttpHeaders } from 'node:http';

export interface ApiRequest {
  method: string;
  path: string;
  params: Record<string, string>;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** Aborted when the client goes away or the server shuts down. */
  signal: AbortSignal;
  /**
   * The request's name and how many writes it has made, set by the cluster's
   * forwarding when the request runs on this server (see writeName). Without
   * it, each write gets a fresh name.
   */
  names?: WriteNames;
}

/** A request's name (the same on every hop and every resend) and its count of writes so far. */
export interface WriteNames {
  readonly id: string;
  seq: number;
}

export interface ApiResponse {
  status: number;
  headers?: Record<string, string>;
  /** A string is sent as is (JSON already serialised, or plain text per `headers`). */
  body?: string | Buffer;
}

export type Handler = (req: ApiRequest) => Promise<ApiResponse> | ApiResponse;
