import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { Logger } from '../../runtime/contract/logger.js';
import { lazyChildLogger, type RootLogger } from '../../runtime/engine/logger.js';

type Level = keyof Logger;

/** A root logger enabling `enabled`, and a bind that counts the children it makes; each child records its lines' arguments. */
function rootAt(...enabled: Level[]) {
  const lines: { level: Level; args: unknown[] }[] = [];
  let children = 0;
  const root = { isLevelEnabled: (level: string) => enabled.includes(level as Level) } as unknown as RootLogger;
  const line =
    (level: Level) =>
    (...args: unknown[]) =>
      void lines.push({ level, args });
  const bind = (): Logger => {
    children += 1;
    return { debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error') };
  };
  return { root, bind, lines, children: () => children };
}

describe('lazyChildLogger: a message logger whose child is made on its first line at an enabled level', () => {
  it('makes no child when every line is below the level', () => {
    const { root, bind, lines, children } = rootAt('warn', 'error');
    const log = lazyChildLogger(root, bind);
    log.debug({ a: 1 }, 'debug');
    log.info({ a: 2 }, 'DOWNGRADE');
    log.info({ a: 3 });
    expect(children()).toBe(0);
    expect(lines).toEqual([]);
  });

  it('makes the child once, on the first enabled line, and writes every later line through it', () => {
    const { root, bind, lines, children } = rootAt('info', 'warn', 'error');
    const log = lazyChildLogger(root, bind);
    log.debug({ skipped: true }, 'below');
    expect(children()).toBe(0);
    log.info({ n: 1 }, 'first');
    log.warn({ n: 2 }, 'second');
    log.error({ n: 3 }, 'third');
    log.info({ n: 4 }, 'fourth');
    expect(children()).toBe(1);
    expect(lines.map((l) => l.level)).toEqual(['info', 'warn', 'error', 'info']);
  });

  it('passes the arguments as given: the object alone when no message is given (never an undefined message)', () => {
    const { root, bind, lines } = rootAt('debug', 'info', 'warn', 'error');
    const log = lazyChildLogger(root, bind);
    const obj = { err: 'boom' };
    log.warn(obj);
    log.warn(obj, 'with a message');
    log.debug(obj, '');
    expect(lines).toEqual([
      { level: 'warn', args: [obj] },
      { level: 'warn', args: [obj, 'with a message'] },
      { level: 'debug', args: [obj, ''] },
    ]);
    // The very object, not a copy.
    expect(lines[0]!.args[0]).toBe(obj);
  });

  it("over a real pino root at warn: an info line writes nothing and binds nothing; a warn line carries the child's fields", () => {
    const written: Record<string, unknown>[] = [];
    const out = new Writable({
      write(chunk: Buffer, _encoding, done) {
        written.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    });
    const root = pino({ level: 'warn' }, out);
    let binds = 0;
    const log = lazyChildLogger(root, () => {
      binds += 1;
      return root.child({ id: '1-0', symbol: 'ETHUSDT' });
    });
    log.info({ from: 'FULL_CLOSE' }, 'DOWNGRADE');
    expect(binds).toBe(0);
    log.warn({ cause: 'no_equity' }, 'heat not trusted');
    log.error({ n: 2 });
    expect(binds).toBe(1);
    expect(written).toEqual([
      expect.objectContaining({ level: 40, id: '1-0', symbol: 'ETHUSDT', cause: 'no_equity', msg: 'heat not trusted' }),
      expect.objectContaining({ level: 50, id: '1-0', symbol: 'ETHUSDT', n: 2 }),
    ]);
    expect(written[1]).not.toHaveProperty('msg');
  });
});
