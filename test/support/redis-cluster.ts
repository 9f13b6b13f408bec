import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Cluster, Redis } from 'ioredis';
import { isListening } from '../../app/local-redis.js';
import { REDIS_PROTOCOL } from '../../runtime/host/redis.js';
import { freePort } from './redis-server.js';

export interface TestRedisCluster {
  readonly ports: readonly number[];
  /** host:port,host:port,... as REDIS_CLUSTER_NODES expects. */
  readonly nodes: string;
  readonly dir: string;
  /** A cluster client for arranging and asserting; closed by stop(). */
  readonly client: Cluster;
  stop(): Promise<void>;
}

/**
 * Three cluster-enabled masters on free loopback ports (no replicas, nothing persisted), joined
 * with `redis-cli --cluster create`, ready once every node reports cluster_state:ok.
 */
export async function startTestRedisCluster(masters = 3): Promise<TestRedisCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'qg-cluster-'));
  const children: ClusterNode[] = [];
  const ports: number[] = [];
  const stopNodes = async () => {
    for (const child of children) child.proc.kill('SIGKILL');
    await Promise.all(children.map((c) => c.exited));
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    for (let i = 0; i < masters; i++) {
      const node = await startClusterNode(dir, ports);
      children.push(node);
      ports.push(node.port);
    }

    // Not spawnSync: a test that hosts gates in this process would see its event loop stalled for
    // the whole creation (seconds on a loaded machine) and its server answer 503 under pressure.
    const create = await run('redis-cli', [
      '--cluster',
      'create',
      ...ports.map((p) => `127.0.0.1:${p}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ]);
    if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${create.output}`);

    for (const port of ports) {
      const probe = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 0 });
      try {
        await waitFor(async () => (await probe.cluster('INFO')).includes('cluster_state:ok'), `cluster_state:ok on ${port}`);
      } finally {
        probe.disconnect();
      }
    }
  } catch (error) {
    await stopNodes();
    throw error;
  }

  const nodes = ports.map((p) => `127.0.0.1:${p}`).join(',');
  const client = new Cluster(
    ports.map((port) => ({ host: '127.0.0.1', port })),
    { redisOptions: { maxRetriesPerRequest: 3, protocol: REDIS_PROTOCOL } }, // as the gates speak it
  );
  await readyEvent(client);
  return {
    ports,
    nodes,
    dir,
    client,
    async stop() {
      client.disconnect();
      await stopNodes();
    },
  };
}

interface ClusterNode {
  readonly port: number;
  readonly proc: ChildProcess;
  readonly exited: Promise<void>;
}

/**
 * One cluster-enabled redis-server, listening. A port found free may be taken (by the other test
 * worker's server, say) before redis-server binds it or its cluster bus (port+10000): then the
 * server exits at once, and another port is tried rather than waiting out the start timeout.
 */
async function startClusterNode(dir: string, taken: readonly number[], attempts = 5): Promise<ClusterNode> {
  let lastFailure = '';
  for (let attempt = 1; attempt <= attempts; attempt++) {
    let port = await freePort();
    while (port > 55_535 || taken.includes(port) || !(await portIsFree(port + 10_000))) port = await freePort();
    const proc = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        `nodes-${port}.conf`,
        '--cluster-node-timeout',
        '2000',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        dir,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let printed = '';
    const heard = (chunk: Buffer) => (printed = (printed + chunk.toString()).slice(-4000));
    for (const out of [proc.stdout, proc.stderr]) out.on('data', heard);
    let closed = false;
    const exited = new Promise<void>((resolve) => proc.once('close', () => ((closed = true), resolve())));
    const deadline = Date.now() + 20_000;
    while (!closed && Date.now() < deadline) {
      if (await isListening('127.0.0.1', port, 100)) {
        // Read on, unheard, so a full pipe never stalls the server.
        for (const out of [proc.stdout, proc.stderr]) out.off('data', heard).resume();
        return { port, proc, exited };
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    if (!closed) proc.kill('SIGKILL');
    await exited;
    lastFailure = `port ${port}: ${closed ? printed.trim().slice(-1000) : 'not listening within 20 s'}`;
  }
  throw new Error(`redis-server (cluster node) did not start in ${attempts} attempts; last, ${lastFailure}`);
}

/** Whether a loopback port can be bound now (a cluster node's bus port must be). */
function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * The client of `cluster`'s master holding `key` (its slot's first node), for waits that run on
 * one node: a blocking XREAD of a stream or the keyspace notifications of a key (untilStream,
 * untilKeys), which a node sends only for its own keys.
 */
export async function nodeFor(cluster: Cluster, key: string): Promise<Redis> {
  const slot = Number(await cluster.cluster('KEYSLOT', key));
  const owner = cluster.slots[slot]?.[0];
  const node = cluster.nodes('master').find((n) => `${n.options.host}:${n.options.port}` === owner);
  if (!node) throw new Error(`no master holds slot ${slot} (${key}): ${owner ?? 'unassigned'}`);
  return node;
}

/** Resolves on the client's 'ready' event (at once if it is ready already). */
function readyEvent(client: Cluster, timeoutMs = 20_000): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timed out waiting for cluster client ready')), timeoutMs);
    client.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Runs a command to its end without blocking the event loop: its exit status and everything it printed. */
function run(command: string, args: readonly string[], timeoutMs = 30_000): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.once('error', (error) => resolve({ status: null, output: `${output}${error.message}` }));
    child.once('close', (status) => resolve({ status, output }));
  });
}
