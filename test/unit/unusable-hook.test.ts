import * as z from 'zod';
import { describe, expect, it } from 'vitest';
import { defineHandler, type AnyHandler, type MessageMeta } from '../../runtime/contract/handler.js';
import { Delivery } from '../../runtime/engine/delivery.js';
import type { Logger } from '../../runtime/contract/logger.js';
import { immediatePace, silentLogger, stubDecisionEnv } from '../support/execution-env.js';
import { prepareBatch, type PipelineEnv } from '../../runtime/engine/message-pipeline.js';

type Hook = NonNullable<AnyHandler['failure']['unusable']>;

/** A gate whose unusable hook is `hook`; `handle` emits `n`. */
function gate(hook: Hook): AnyHandler {
  return defineHandler({
    name: 'picky',
    description: 'test',
    trigger: { kind: 'stream', stream: () => 'in', group: () => 'g' },
    input: z.looseObject({ n: z.string() }),
    config: () => ({}),
    metrics: () => ({}),
    failure: { maxAttempts: 1, backoffMs: 0, policy: 'dead-letter', unusable: hook },
    handle: async (message, ctx) => ctx.emit('out', { n: message.n }),
  });
}

function pipelineOf(handler: AnyHandler, warnings: { id: string; obj: object; msg?: string }[] = []): PipelineEnv {
  const decision = {
    ...stubDecisionEnv(),
    logger: (meta: MessageMeta): Logger => ({
      ...silentLogger,
      warn: (obj: object, msg?: string) => void warnings.push({ id: meta.id, obj, ...(msg === undefined ? {} : { msg }) }),
    }),
  };
  return {
    handler,
    decision,
    pace: immediatePace(),
    maxDeliveries: 5,
    deadLetter: { stream: 'dlq', maxLen: 0, sourceStream: 'in', group: 'g' },
  };
}

const entries = (...raws: Record<string, string>[]) =>
  raws.map((raw, i) => new Delivery({ id: `${i + 1}-0`, raw, producedAt: 1 }, raw, 1, `${i + 1}-0`));

/** Each delivery's outcome and what it would commit. */
async function run(hook: Hook, ...raws: Record<string, string>[]) {
  return (await runLogged(hook, ...raws)).outcomes;
}

/** `run`, with the warnings logged meanwhile. */
async function runLogged(hook: Hook, ...raws: Record<string, string>[]) {
  const warnings: { id: string; obj: object; msg?: string }[] = [];
  const { deliveries } = await prepareBatch(pipelineOf(gate(hook), warnings), entries(...raws), 1);
  const outcomes = deliveries.map((d) => ({
    outcome: d.outcome.kind,
    emitted: d.recorder?.effects.map((e) => (e.op === 'emit' ? e.fields : undefined)) ?? [],
  }));
  return { outcomes, warnings };
}

describe('the unusable-entry hook, answering synchronously or not', () => {
  const elsewhere = (raw: Readonly<Record<string, string>>) => raw.from === 'elsewhere';
  const expected = [
    { outcome: 'handled', emitted: [{ n: '1' }] },
    { outcome: 'unusable', emitted: [{ marker: '2' }] },
    { outcome: 'dead-letter', emitted: [] },
  ];
  const raws: Record<string, string>[] = [{ n: '1' }, { from: 'elsewhere', n: '2' }, { junk: 'x' }];

  it('a synchronous answer and a promised one decide the same', async () => {
    const sync: Hook = (raw, ctx) => {
      if (!elsewhere(raw)) return false;
      ctx.emit('out', { marker: raw.n ?? '' });
      return true;
    };
    const promised: Hook = async (raw, ctx) => sync(raw, ctx);
    expect(await run(sync, ...raws)).toEqual(expected);
    expect(await run(promised, ...raws)).toEqual(expected);
  });

  it('a hook that throws, or whose promise rejects, leaves the entry to the schema', async () => {
    const throws: Hook = () => {
      throw new Error('boom');
    };
    const rejects: Hook = async () => {
      throw new Error('boom');
    };
    for (const hook of [throws, rejects])
      expect((await run(hook, { n: '1' }, { junk: 'x' })).map((d) => d.outcome)).toEqual(['handled', 'dead-letter']);
  });

  it('a hook that throws synchronously: a warning for that entry, with the error, and the entry validated as usual', async () => {
    const throwsFor2: Hook = (raw) => {
      if (raw.n === '2') throw new Error('hook broke');
      return false;
    };
    const { outcomes, warnings } = await runLogged(throwsFor2, { n: '1' }, { n: '2' }, { junk: 'x', n: '3' });
    // The valid entry it threw on is handled; the others are as if the hook had said no.
    expect(outcomes).toEqual([
      { outcome: 'handled', emitted: [{ n: '1' }] },
      { outcome: 'handled', emitted: [{ n: '2' }] },
      { outcome: 'handled', emitted: [{ n: '3' }] },
    ]);
    expect(warnings).toEqual([
      { id: '2-0', obj: { err: new Error('hook broke') }, msg: 'unusable-entry check failed; the entry is validated as usual' },
    ]);
  });

  it('a hook that throws synchronously on an invalid entry: the entry is dead-lettered by the schema, with the warning', async () => {
    const throws: Hook = () => {
      throw new Error('hook broke');
    };
    const { outcomes, warnings } = await runLogged(throws, { junk: 'x' });
    expect(outcomes.map((o) => o.outcome)).toEqual(['dead-letter']);
    expect(warnings.map((w) => w.msg)).toEqual(['unusable-entry check failed; the entry is validated as usual']);
  });

  it('a promise that rejects warns the same as a synchronous throw', async () => {
    const rejects: Hook = async () => {
      throw new Error('hook broke');
    };
    const { warnings } = await runLogged(rejects, { n: '1' });
    expect(warnings).toEqual([
      { id: '1-0', obj: { err: new Error('hook broke') }, msg: 'unusable-entry check failed; the entry is validated as usual' },
    ]);
  });
});
