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
}

export interface ApiResponse {
  status: number;
  headers?: Record<string, string>;
  /** A string is sent as is (JSON already serialised, or plain text per `headers`). */
  body?: string | Buffer;
}

export type Handler = (req: ApiRequest) => Promise<ApiResponse> | ApiResponse;
