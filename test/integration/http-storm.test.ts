import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { streams } from '../../schemas/keys.js';
import { commandCalls } from '../support/command-calls.js';
import { startTestRedis, type TestRedis } from '../support/redis-server.js';
import { waitFor } from '../support/runtime.js';
import { untilReady, untilServing } from '../support/serving.js';
import { childBaseEnv } from '../support/own-dirs.js';
import { gatesEntry } from '../support/gates-process.js';

const root = resolve(import.meta.dirname, '../..');
const CLIENTS = 300;
const PIPELINED = 50;
const PROPOSALS = 150;

/** The gates' resident memory in MiB, from the kernel's own account of the process. */
function rssMiB(pid: number): number {
  const line = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(line?.[1] ?? 0) / 1024;
}

const msOf = (id: string) => Number(id.split('-', 1)[0]);

/** Established connections the server holds on `port`, from the kernel's table (a paused client never sees the server close). */
function serverConnections(port: number): number {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  return ['/proc/net/tcp', '/proc/net/tcp6']
    .flatMap((table) => readFileSync(table, 'utf8').split('\n').slice(1))
    .map((line) => line.trim().split(/\s+/))
    .filter((cols) => cols[1]?.endsWith(`:${hexPort}`) && cols[3] === '01').length;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/**
 * Proposals decided while `storm` runs: the time from each proposal's entry to its heat decision's
 * entry, both as Redis stamped them, so neither process's clock or load enters the figure.
 */
async function decisionLatencies(redis: TestRedis, tag: string): Promise<number[]> {
  const produced = new Map<string, number>();
  for (let i = 0; i < PROPOSALS; i++) {
    const planId = `${tag}-${i}`;
    const id = await redis.client.xadd(streams.harvestProposal, '*', 'plan_id', planId, 'symbol', 'ETHUSDT', 'action', 'FULL_CLOSE');
    produced.set(planId, msOf(id!));
    await new Promise((r) => setTimeout(r, 10));
  }
  const decided = await waitFor(
    async () => {
      const entries = await redis.client.xrange(streams.heatDecision, '-', '+');
      const mine = entries.filter(([, f]) => produced.has(f[f.indexOf('plan_id') + 1]!));
      return mine.length === PROPOSALS ? mine : undefined;
    },
    { timeoutMs: 60_000, what: `${PROPOSALS} heat decisions` },
  );
  return decided.map(([id, f]) => msOf(id) - produced.get(f[f.indexOf('plan_id') + 1]!)!).sort((a, b) => a - b);
}

describe('the operator endpoints under a storm of clients that never read', () => {
  let redis: TestRedis;
  let gates: ChildProcess;
  let port: number;
  let output = '';

  beforeAll(async () => {
    redis = await startTestRedis();
    gates = spawn(process.execPath, [...gatesEntry()], {
      cwd: root,
      env: {
        ...childBaseEnv(),
        REDIS_URL: redis.url,
        PORT: '0',
        HANDLERS: 'heat-gate,position-snapshot',
        LOG_LEVEL: 'warn',
        // Longer than the storm lasts on a busy machine (11 s at load 14), so the clients are still
        // held when /ready is asked; then the cut-off is waited for.
        HTTP_IDLE_TIMEOUT_MS: '20000',
        // No tape: its size gauges send XLEN too, and XLEN counts the status reads below.
        TAPE_MAXLEN: '0',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    gates.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    gates.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    port = await untilServing(gates, 60_000);
    await untilReady(port, { timeoutMs: 60_000, what: `the gates to be ready:\n${output}` });
    await redis.client.hset('quantum:state:portfolio', { equity_usd: '10000', timestamp: String(Math.floor(Date.now() / 1000)) });
  }, 90_000);

  afterAll(async () => {
    gates?.kill('SIGTERM');
    await redis?.stop();
  });

  it('keeps decision latency and memory in bounds, answers /ready, and cuts the silent clients off', async () => {
    const calm = await decisionLatencies(redis, 'calm');
    const rssBefore = rssMiB(gates.pid!);

    const request = `GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`.repeat(PIPELINED);
    const sockets: Socket[] = [];
    for (let i = 0; i < CLIENTS; i++) {
      const socket = connect(port, '127.0.0.1');
      socket.on('error', () => undefined);
      // Never read: the responses pile up on the server's side of the socket.
      socket.pause();
      socket.write(request);
      sockets.push(socket);
    }
    try {
      const stormStarted = Date.now();
      const statusReadsBefore = await commandCalls(redis.client, 'xlen');
      const stormy = await decisionLatencies(redis, 'storm');
      // Each /status read asks Redis for the dead-letter stream's length once (XLEN, which nothing
      // else here sends): the requests answered from one read show as XLENs not sent.
      const statusReads = (await commandCalls(redis.client, 'xlen')) - statusReadsBefore;
      const stormMs = Date.now() - stormStarted;
      const rssDuring = rssMiB(gates.pid!);
      // /ready must answer while the storm still holds its connections (checked below), not queue
      // behind its 15,000 requests; how fast it answers is the machine's (over 2 s at load 20).
      const readyAsked = Date.now();
      const ready = await fetch(`http://127.0.0.1:${port}/ready`, { signal: AbortSignal.timeout(15_000) });
      const readyMs = Date.now() - readyAsked;

      const summary = `calm p50 ${percentile(calm, 50)} p99 ${percentile(calm, 99)} ms; storm p50 ${percentile(stormy, 50)} p99 ${percentile(stormy, 99)} ms over ${stormMs} ms, ${statusReads} status reads; /ready in ${readyMs} ms; RSS ${rssBefore.toFixed(0)} → ${rssDuring.toFixed(0)} MiB`;
      // Without the status cache, the in-flight bound and the idle cut-off (STATUS_CACHE_MS=0,
      // HTTP_MAX_IN_FLIGHT=100000, HTTP_IDLE_TIMEOUT_MS=600000) this storm gave p99 2.2 s and
      // +284 MiB here; with them, p99 0.4-0.6 s and +9 to +42 MiB. How fast the decisions stay is
      // the bench's to measure (a timed bound here failed whenever the machine was busy); this
      // test holds what keeps them fast: the storm's 15,000 requests cost Redis at most one status
      // read per STATUS_CACHE_MS (1 s, the default) however long they take, and the memory stays
      // bounded while every decision is made.
      expect(statusReads, summary).toBeLessThanOrEqual(Math.ceil(stormMs / 1000) + 1);
      expect(rssDuring - rssBefore, summary).toBeLessThan(120);
      expect(ready.status, summary).toBe(200);

      expect(serverConnections(port), summary).toBeGreaterThanOrEqual(CLIENTS / 2);
      await waitFor(async () => serverConnections(port) === 0 || undefined, {
        timeoutMs: 45_000,
        what: 'the server to close the silent clients',
      }).catch((error: unknown) => {
        throw new Error(`${String(error)}: ${serverConnections(port)} of ${CLIENTS} still open; ${summary}`);
      });
    } finally {
      for (const socket of sockets) socket.destroy();
    }
  }, 150_000);
});
