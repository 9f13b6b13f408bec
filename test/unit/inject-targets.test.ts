import { describe, expect, it } from 'vitest';
import { gateStream, injectKinds } from '../../cli/commands/inject.js';
import { streams } from '../../schemas/keys.js';

describe('inject targets', () => {
  const streamKinds = injectKinds.flatMap((kind) => (kind.target.kind === 'stream' ? [{ name: kind.name, target: kind.target }] : []));

  it('writes each kind to the default input stream of its gate', () => {
    expect(Object.fromEntries(streamKinds.map(({ name, target }) => [name, gateStream(target.gate, {})]))).toEqual({
      proposal: streams.harvestProposal,
      plan: streams.applyPlan,
      snapshot: streams.positionSnapshot,
    });
  });

  it.each(['proposal', 'plan', 'snapshot'])('names in its help (%s) the variable its gate really reads for the stream', (name) => {
    const { target } = streamKinds.find((k) => k.name === name)!;
    expect(gateStream(target.gate, { [target.envVar]: 'test:stream:moved' })).toBe('test:stream:moved');
  });
});
