import { describe, expect, it } from 'vitest';
import { evictionOf, readEviction } from '../../handlers/governor/eviction.js';
import { disarmSection } from '../../handlers/governor/status.js';

const section = (policy: string) => `# Memory\r\nused_memory:1024\r\nmaxmemory_policy:${policy}\r\nmem_fragmentation_ratio:1.2\r\n`;

describe('whether Redis may evict, from INFO memory (issue #59 item 3)', () => {
  it('noeviction only when every node says so', () => {
    expect(evictionOf(section('noeviction'))).toEqual({ kind: 'noeviction' });
    expect(evictionOf(section('volatile-ttl'))).toEqual({ kind: 'may_evict', policy: 'volatile-ttl' });
    // A cluster's masters, one after another: one evicting master is enough.
    const cluster = [section('noeviction'), section('allkeys-lru'), section('noeviction')].map((s, i) => `# node n${i}:7000\r\n${s}`);
    expect(evictionOf(cluster.join('\r\n'))).toEqual({ kind: 'may_evict', policy: 'allkeys-lru' });
  });

  it('a section naming no policy cannot confirm noeviction', () => {
    expect(evictionOf('# Memory\r\nused_memory:1024\r\n')).toMatchObject({ kind: 'may_evict', policy: expect.stringMatching(/^unknown/) });
  });

  it('a refusal Redis answered blocks opens naming it; a read Redis did not answer is thrown (the plan waits)', async () => {
    const refusing = (message: string) => ({ info: () => Promise.reject(new Error(message)) });
    expect(await readEviction(refusing("NOPERM User gates has no permissions to run the 'info' command"))).toEqual({
      kind: 'may_evict',
      policy: "unreadable (INFO memory refused: NOPERM User gates has no permissions to run the 'info' command)",
    });
    expect(await readEviction(refusing("ERR unknown command 'info'"))).toMatchObject({ kind: 'may_evict' });
    for (const held of ['Connection is closed.', 'Command timed out', 'LOADING Redis is loading the dataset in memory', 'info memory'])
      await expect(readEviction(refusing(held))).rejects.toThrow(held);
  });
});

describe('the status says why opens are blocked', () => {
  it('a BLOCKING headline naming the policy, beside a tripped disarm or alone; none on noeviction', () => {
    const text = 'Redis may evict keys (maxmemory-policy allkeys-lru): the governor blocks every open until it is noeviction';
    expect(disarmSection.headline!({ active: false, detail: null, redis_may_evict: 'allkeys-lru' }, 0)).toEqual([
      { state: 'BLOCKING', text, since: null },
    ]);
    expect(disarmSection.headline!({ active: true, detail: 'manual', redis_may_evict: 'allkeys-lru' }, 0).map((r) => r.text)).toEqual([
      'governor disarmed: every open is blocked (manual)',
      text,
    ]);
    expect(disarmSection.headline!({ active: false, detail: null }, 0)).toEqual([]);
  });
});
