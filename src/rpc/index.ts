// The public surface of the RPC layer; see README.md.
export { RpcClient, type RpcClientStats, type CallOptions, type DropCounters, type DropReason } from './client.js';
export { RpcServer, type RpcServerStats, type RpcContext, type RpcHandler, type RpcMessageListener } from './server.js';
export { RpcError, isRpcError, toWireError, type RpcErrorCode } from './errors.js';
export { RPC_PROTOCOL, rpcClientConfig, rpcServerConfig, type RpcClientOptions, type RpcServerOptions, type RpcClientConfig, type RpcServerConfig } from './config.js';
export { silentRpcLogger, type RpcLogger } from './logger.js';
export type { Hello } from './wire.js';
