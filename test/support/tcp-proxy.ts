import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * What the proxy does to traffic:
 * - forward: bytes flow both ways.
 * - blackhole: connections (old and new) stay open and silent, as behind a dead link.
 * - reset: every connection, existing or new, is torn down with a TCP RST.
 * - refuse: nothing listens; new connections get ECONNREFUSED; existing ones keep forwarding.
 */
export type ProxyState = 'forward' | 'blackhole' | 'reset' | 'refuse';

export interface BlackholeOptions {
  /**
   * drop (default): bytes sent meanwhile are lost, as after a partition long enough for TCP to
   * give up; such a connection cannot carry its protocol on, so restore() resets it.
   * hold: bytes wait and flow on restore(), as in a partition short enough for TCP to retransmit.
   */
  readonly mode?: 'drop' | 'hold';
}

export interface TcpProxy {
  /** The loopback port clients connect to. */
  readonly port: number;
  readonly url: string;
  readonly state: ProxyState;
  /** Connections accepted since the start (reset or not). */
  readonly accepted: number;
  /** Connections currently open through the proxy. */
  readonly open: number;
  blackhole(options?: BlackholeOptions): void;
  /**
   * Forwards until bytes bound for a client hold `marker`, then turns to a 'hold' blackhole right
   * after them: a stall that starts the moment a client has received, say, a stream entry, before
   * the reads its handler makes of it. Resolves then; restore() ends the stall.
   */
  holdAfter(marker: string): Promise<void>;
  /** The size of each chunk forwarded to clients since the start, in order (a round trip's replies usually arrive as one). */
  readonly chunksToClient: readonly number[];
  /**
   * Forwards `bytes` more bytes to clients, then closes every connection right after them (a reply
   * cut where that byte falls, mid-reply or between replies); new connections forward as ever.
   */
  cutAfter(bytes: number): void;
  /** Takes back a cutAfter whose bytes never all flowed: true when one was still waiting. */
  uncut(): boolean;
  /** Destroys every connection with RST, and resets new ones until restore(). */
  reset(): void;
  /** Stops listening: new connections are refused until restore(). */
  refuse(): Promise<void>;
  /** Back to forwarding (listening again on the same port after refuse()). */
  restore(): Promise<void>;
  close(): Promise<void>;
}

interface Pair {
  readonly client: Socket;
  readonly upstream: Socket;
  /** Bytes held in a 'hold' blackhole, per direction, in order. */
  readonly held: { toUpstream: Buffer[]; toClient: Buffer[] };
  /** True once bytes were dropped: the byte stream is broken. */
  lostBytes: boolean;
}

/**
 * A TCP proxy of the tests' own on a free loopback port, forwarding to target, for network
 * faults no Redis command can cause: a silent link, resets, a refusing port.
 */
export async function startTcpProxy(target: { host?: string; port: number }): Promise<TcpProxy> {
  const host = target.host ?? '127.0.0.1';
  const pairs = new Set<Pair>();
  let state: ProxyState = 'forward';
  let holdBytes = false;
  let holdTrigger: { marker: string; reached: () => void } | undefined;
  let cut: { remaining: number } | undefined;
  const chunksToClient: number[] = [];
  let accepted = 0;
  let server: Server | undefined;
  let port = 0;

  const destroyWithReset = (socket: Socket) => {
    if (!socket.destroyed) socket.resetAndDestroy();
  };

  const onConnection = (client: Socket) => {
    accepted += 1;
    if (state === 'reset') {
      destroyWithReset(client);
      return;
    }
    const upstream = connect({ host, port: target.port });
    const pair: Pair = { client, upstream, held: { toUpstream: [], toClient: [] }, lostBytes: false };
    pairs.add(pair);
    const relay = (from: Socket, to: Socket, held: Buffer[]) => {
      from.on('data', (chunk: Buffer) => {
        if (state !== 'blackhole' && to === client && cut !== undefined && chunk.length >= cut.remaining) {
          const last = chunk.subarray(0, cut.remaining);
          cut = undefined;
          chunksToClient.push(last.length);
          // Closed as CLIENT KILL closes (a FIN after the bytes written, which it never discards as an RST may).
          to.write(last, () => {
            for (const p of pairs) {
              p.client.destroy();
              p.upstream.destroy();
            }
          });
          return;
        }
        if (state !== 'blackhole') {
          if (to === client) {
            chunksToClient.push(chunk.length);
            if (cut !== undefined) cut.remaining -= chunk.length;
          }
          to.write(chunk);
          if (holdTrigger !== undefined && to === client && chunk.includes(holdTrigger.marker)) {
            state = 'blackhole';
            holdBytes = true;
            holdTrigger.reached();
            holdTrigger = undefined;
          }
        } else if (holdBytes) {
          held.push(chunk);
        } else {
          pair.lostBytes = true;
        }
      });
    };
    relay(client, upstream, pair.held.toUpstream);
    relay(upstream, client, pair.held.toClient);
    // One side gone: the other follows the same way (an RST stays an RST, an end stays an end).
    const follow = (from: Socket, to: Socket) => {
      from.on('error', () => destroyWithReset(to));
      from.on('end', () => to.end());
      from.on('close', () => {
        pairs.delete(pair);
        if (!to.destroyed) to.destroy();
      });
    };
    follow(client, upstream);
    follow(upstream, client);
  };

  const listen = (onPort: number) =>
    new Promise<void>((resolve, reject) => {
      const s = createServer(onConnection);
      s.once('error', reject);
      s.listen(onPort, '127.0.0.1', () => {
        s.off('error', reject);
        server = s;
        const address = s.address();
        if (typeof address === 'object' && address) port = address.port;
        resolve();
      });
    });

  const stopListening = () =>
    new Promise<void>((resolve) => {
      const s = server;
      server = undefined;
      if (!s) return resolve();
      // close() calls back only once every connection has ended; not listening is immediate.
      s.close();
      resolve();
    });

  await listen(0);

  return {
    get port() {
      return port;
    },
    get url() {
      return `redis://127.0.0.1:${port}`;
    },
    get state() {
      return state;
    },
    get accepted() {
      return accepted;
    },
    get open() {
      return pairs.size;
    },
    get chunksToClient() {
      return chunksToClient;
    },
    cutAfter(bytes: number) {
      cut = { remaining: bytes };
    },
    uncut() {
      const waiting = cut !== undefined;
      cut = undefined;
      return waiting;
    },
    blackhole({ mode = 'drop' }: BlackholeOptions = {}) {
      state = 'blackhole';
      holdBytes = mode === 'hold';
    },
    holdAfter(marker: string) {
      return new Promise<void>((reached) => {
        holdTrigger = { marker, reached };
      });
    },
    reset() {
      state = 'reset';
      for (const pair of pairs) {
        destroyWithReset(pair.client);
        destroyWithReset(pair.upstream);
      }
    },
    async refuse() {
      state = 'refuse';
      await stopListening();
    },
    async restore() {
      const was = state;
      state = 'forward';
      if (was === 'blackhole') {
        for (const pair of pairs) {
          if (pair.lostBytes) {
            destroyWithReset(pair.client);
            destroyWithReset(pair.upstream);
            continue;
          }
          for (const chunk of pair.held.toUpstream.splice(0)) pair.upstream.write(chunk);
          for (const chunk of pair.held.toClient.splice(0)) pair.client.write(chunk);
        }
      }
      if (!server) await listen(port);
    },
    async close() {
      state = 'reset';
      await stopListening();
      for (const pair of pairs) {
        pair.client.destroy();
        pair.upstream.destroy();
      }
      pairs.clear();
    },
  };
}
