import type { ChildProcess } from 'node:child_process';
import { waitFor } from './runtime.js';

/** The port of the app's "serving http://HOST:PORT (metrics …" line (app/main.ts), once `output` holds it. */
export function servingPort(output: string): number | undefined {
  const port = /serving http:\/\/\S+:(\d+) /.exec(output)?.[1];
  return port === undefined ? undefined : Number(port);
}

/**
 * The port the app spawned as `child` with PORT=0 serves on, read from its "serving" line: a port
 * found free beforehand may be another test's by the time the app binds it, and a request to that
 * one may never be answered. Rejects with what it printed when it ends first or after `timeoutMs`.
 * It hears only what the child prints from the call on: call it in the same turn as the spawn.
 */
export function untilServing(child: ChildProcess, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let output = '';
    const settle = (done: () => void) => {
      clearTimeout(timer);
      child.stdout?.off('data', heard);
      child.stderr?.off('data', heard);
      child.off('close', closed);
      done();
    };
    const heard = (chunk: Buffer) => {
      output += chunk.toString();
      const port = servingPort(output);
      if (port !== undefined) settle(() => resolve(port));
    };
    const closed = (code: number | null) =>
      settle(() => reject(new Error(`exited (${code}) before its "serving" line; output: ${output.slice(-2000)}`)));
    const timer = setTimeout(
      () =>
        settle(() =>
          reject(new Error(`timed out after ${timeoutMs} ms waiting for the "serving" line (output so far: ${output.slice(-2000)})`)),
        ),
      timeoutMs,
    );
    child.stdout?.on('data', heard);
    child.stderr?.on('data', heard);
    child.once('close', closed);
  });
}

/**
 * Waits for /ready to answer 200 on 127.0.0.1:`port`. Each request has its own bound: one to a
 * listener that never answers would otherwise hold the wait past `timeoutMs`, until the test's.
 */
export function untilReady(port: number, { timeoutMs = 30_000, what = `/ready on ${port}` } = {}): Promise<boolean> {
  return waitFor(
    async () =>
      (await fetch(`http://127.0.0.1:${port}/ready`, { signal: AbortSignal.timeout(5_000) }).catch(() => undefined))?.status === 200,
    { timeoutMs, what },
  );
}
