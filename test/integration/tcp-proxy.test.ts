import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { usePrivateRedis } from '../support/redis-server.js';
import { waitFor } from '../support/runtime.js';
import { untilKeys } from '../support/until.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

describe('the chaos suite TCP proxy', () => {
  const redis = usePrivateRedis();
  let proxy: TcpProxy;
  const clients: Redis[] = [];

  /**
   * A client through the proxy that reconnects quickly and bounds every command: by 300 ms where
   * the test is a blackhole's (a command that gets no answer times out), else by 10 s, which only a
   * hang reaches (300 ms for every command failed a PING that should pass on a machine at load 13).
   */
  function client(options: { retry?: boolean; blackholeTimeout?: boolean } = {}): { redis: Redis; errors: Error[] } {
    const errors: Error[] = [];
    const c = new Redis({
      host: '127.0.0.1',
      port: proxy.port,
      commandTimeout: options.blackholeTimeout === true ? 300 : 10_000,
      maxRetriesPerRequest: 0,
      retryStrategy: options.retry === false ? () => null : () => 50,
    });
    c.on('error', (error: Error) => errors.push(error));
    clients.push(c);
    return { redis: c, errors };
  }

  /** Resolves on the client's first error with `code`, at once if it has had one: woken by its error event. */
  const erred = (c: Redis, errors: readonly Error[], code: string) =>
    new Promise<void>((resolve) => {
      const hasCode = (error: Error) => (error as NodeJS.ErrnoException).code === code;
      if (errors.some(hasCode)) return resolve();
      const onError = (error: Error) => {
        if (!hasCode(error)) return;
        c.off('error', onError);
        resolve();
      };
      c.on('error', onError);
    });

  const pingOk = (c: Redis) =>
    c.ping().then(
      (reply) => reply === 'PONG',
      () => false,
    );

  beforeEach(async () => {
    proxy = await startTcpProxy({ port: redis.port });
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.disconnect();
    await proxy.close();
  });

  it('forwards: a client through it PINGs, and each connection is counted', async () => {
    const { redis: c } = client();

    expect(await c.ping()).toBe('PONG');
    expect(proxy.accepted).toBe(1);
    expect(proxy.open).toBe(1);
    expect(await c.set('through', 'proxy')).toBe('OK');
    expect(await redis.client.get('through')).toBe('proxy');
  });

  it('blackholes: the connection stays open and a PING times out; after restore the client reconnects and PINGs', async () => {
    const { redis: c } = client({ blackholeTimeout: true });
    await waitFor(() => pingOk(c), { what: 'a first PING' });

    proxy.blackhole();

    await expect(c.ping()).rejects.toThrow(/Command timed out/);
    expect(proxy.open).toBe(1);
    expect(c.status).toBe('ready');

    await proxy.restore();
    await waitFor(() => pingOk(c), { what: 'PING after restore' });
  });

  it('holds bytes in a short blackhole and delivers them on restore', async () => {
    const { redis: c } = client({ blackholeTimeout: true });
    await waitFor(() => pingOk(c), { what: 'a first PING' });

    proxy.blackhole({ mode: 'hold' });
    const write = c.set('held', '1').catch((error: Error) => error.message);
    await expect(c.ping()).rejects.toThrow(/Command timed out/);
    expect(await redis.client.get('held')).toBeNull();

    await proxy.restore();
    await untilKeys(redis.client, ['held'], async () => (await redis.client.get('held')) === '1', { what: 'the held SET to arrive' });

    expect(await write).toMatch(/Command timed out/);
  });

  it('resets: the client sees ECONNRESET, cannot get back in until restore, then reconnects', async () => {
    const { redis: c, errors } = client();
    await c.ping();

    proxy.reset();

    await erred(c, errors, 'ECONNRESET');
    expect(await pingOk(c)).toBe(false);
    const acceptedWhileResetting = proxy.accepted;
    await waitFor(() => proxy.accepted > acceptedWhileResetting, { what: 'a reconnect attempt being reset' });
    expect(proxy.open).toBe(0);

    await proxy.restore();
    // Reset connections never get past the ready check: the next 'ready' is a connection after the restore.
    await new Promise((resolve) => c.once('ready', resolve));
    expect(await pingOk(c)).toBe(true);
  });

  it('refuses: a new client gets ECONNREFUSED while an open connection carries on; restore listens again on the same port', async () => {
    const { redis: open } = client();
    await open.ping();
    const port = proxy.port;

    await proxy.refuse();

    const { redis: late, errors } = client({ retry: false });
    // No retries: the refused connection ends the client (events.once would reject on its error).
    await new Promise((resolve) => late.once('end', resolve));
    expect(errors.map((e) => (e as NodeJS.ErrnoException).code)).toContain('ECONNREFUSED');
    expect(late.status).toBe('end');
    expect(await open.ping()).toBe('PONG');

    await proxy.restore();
    expect(proxy.port).toBe(port);
    const { redis: again } = client();
    expect(await again.ping()).toBe('PONG');
  });
});
