/**
 * Bench group `rpc` (`npm run bench -- rpc`): request/response over loopback for raw `node:net`
 * (TCP, Unix socket), raw `node:tls`, `ws`, `@grpc/grpc-js` unary and streaming, and npro once its
 * systems are registered (see `bench/net/system.ts`): round trip p50/p99, requests/s with 256 in
 * flight on 1 and 8 connections, pipelined 64 B messages/s, 1 MiB payloads MB/s.
 */
import type { BenchOptions, BenchRow } from './lib.js';
import { runGroup } from './net/group.js';
import { runRpc } from './net/suite.js';

export function run(opts: BenchOptions): Promise<BenchRow[]> {
  return runGroup('rpc', opts, runRpc);
}
