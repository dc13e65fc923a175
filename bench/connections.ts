/**
 * Bench group `connections` (`npm run bench -- connections`): new connection + handshake + one
 * request + close per second (sequential and 8 concurrent), and resident memory per idle
 * connection, server and client, with 10,000 connections open (fewer when `ulimit -Hn` is lower;
 * the output says so), for the same systems as `rpc`.
 */
import type { BenchOptions, BenchRow } from './lib.js';
import { runGroup } from './net/group.js';
import { runConnections } from './net/suite.js';

export function run(opts: BenchOptions): Promise<BenchRow[]> {
  return runGroup('connections', opts, runConnections);
}
