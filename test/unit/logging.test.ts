import { describe, expect, it } from 'vitest';
import { createLogger, logThrottle, prettyLine } from '../../app/logging.js';

function capture(isTTY = false) {
  const lines: string[] = [];
  return { lines, output: { write: (text: string) => lines.push(text), isTTY } };
}

describe('repeated warnings', () => {
  it('writes the first, holds back identical ones within the window, and counts them on the next', () => {
    let now = 0;
    const throttle = logThrottle(1000, () => now);
    expect(throttle.admit('a')).toEqual({ write: true, repeated: 0 });
    for (let i = 0; i < 5; i++) expect(throttle.admit('a').write).toBe(false);
    expect(throttle.admit('b')).toEqual({ write: true, repeated: 0 });
    now = 1000;
    expect(throttle.admit('a')).toEqual({ write: true, repeated: 5 });
    expect(throttle.admit('a').write).toBe(false);
  });

  it('remembers a bounded number of distinct lines', () => {
    const throttle = logThrottle(1000, () => 0, 2);
    throttle.admit('a');
    throttle.admit('b');
    throttle.admit('c'); // forgets a
    expect(throttle.admit('a').write).toBe(true);
    expect(throttle.admit('c').write).toBe(false);
  });

  it('a logger writes a flood of one warning once, then with `repeated`; info lines are never held back', () => {
    let now = 0;
    const { lines, output } = capture();
    const log = createLogger('info', {}, { output, format: 'json', repeatWindowMs: 1000, now: () => now });
    for (let i = 0; i < 100; i++) log.child({ handler: 'risk-budget' }).warn({ err: 'Connection is closed.' }, 'worker error');
    log.child({ handler: 'governor-cooldown' }).warn({ err: 'Connection is closed.' }, 'worker error');
    for (let i = 0; i < 3; i++) log.info('consuming');
    now = 1500;
    log.child({ handler: 'risk-budget' }).warn({ err: 'Connection is closed.' }, 'worker error');
    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records.map((r) => [r.handler ?? null, r.msg, r.repeated ?? null])).toEqual([
      ['risk-budget', 'worker error', null],
      ['governor-cooldown', 'worker error', null],
      [null, 'consuming', null],
      [null, 'consuming', null],
      [null, 'consuming', null],
      ['risk-budget', 'worker error', 99],
    ]);
  });

  it("counts a warning repeated by every tick or message as one: the message's own ids are not what makes it another", () => {
    let now = 0;
    const { lines, output } = capture();
    const log = createLogger('warn', {}, { output, format: 'json', repeatWindowMs: 60_000, now: () => now });
    const tick = log.child({ handler: 'risk-budget', queue: 'risk-budget' });
    // P2.8 in enforce: every 10 s tick (a job of its own) warns of the same violations.
    for (let job = 1; job <= 6; job++, now += 10_000)
      for (const symbol of ['BTCUSDT', 'ETHUSDT']) tick.child({ job: `${job}` }).warn({ symbol, over_budget: job }, 'budget violation');
    // A stream entry's ids bound the same way: the same warning about one symbol is one line.
    const gate = log.child({ handler: 'governor', stream: 'quantum:stream:apply.plan', group: 'governor' });
    for (let i = 0; i < 3; i++)
      gate.child({ id: `${i}-0`, plan_id: `p${i}`, trace_id: `t${i}`, symbol: 'SOLUSDT' }).warn({}, 'P2.8 budget violation detected');
    now += 1;
    tick.child({ job: '7' }).warn({ symbol: 'BTCUSDT' }, 'budget violation');
    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records.map((r) => [r.msg, r.symbol, r.repeated ?? null])).toEqual([
      ['budget violation', 'BTCUSDT', null],
      ['budget violation', 'ETHUSDT', null],
      ['P2.8 budget violation detected', 'SOLUSDT', null],
      ['budget violation', 'BTCUSDT', 5],
    ]);
  });
});

describe('log lines for people', () => {
  it('on a terminal: time, level, message, then the fields', () => {
    const json = JSON.stringify({
      level: 40,
      time: '2026-11-23T09:20:01.123Z',
      pid: 7,
      name: 'quantum-gates',
      handler: 'governor',
      msg: 'worker error',
      err: 'Connection is closed.',
      repeated: 3,
    });
    expect(prettyLine(json, false)).toBe('09:20:01.123 WARN  worker error  handler=governor err="Connection is closed." repeated=3\n');
    expect(prettyLine(json, true)).toContain('\x1b[33mWARN \x1b[0m');
  });

  it('chooses readable lines for a terminal and JSON for anything else, unless told', () => {
    const terminal = capture(true);
    createLogger('info', {}, { output: terminal.output }).info({ gate: 'heat-gate' }, 'consuming');
    expect(terminal.lines[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} .*INFO .* consuming {2}gate=heat-gate\n$/);

    const pipe = capture(false);
    createLogger('info', {}, { output: pipe.output }).info('consuming');
    expect(JSON.parse(pipe.lines[0]!)).toMatchObject({ level: 30, msg: 'consuming' });

    const forcedJson = capture(true);
    createLogger('info', {}, { output: forcedJson.output, format: 'json' }).info('consuming');
    expect(JSON.parse(forcedJson.lines[0]!)).toMatchObject({ msg: 'consuming' });
  });
});
