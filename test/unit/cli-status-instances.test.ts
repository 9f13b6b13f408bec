import { describe, expect, it } from 'vitest';
import { perGateInstances, type InstanceFileSystem } from '../../cli/gate-instances.js';
import { UsageError } from '../../cli/errors.js';
import { renderGatesStatus } from '../../cli/gates-status-view.js';
import { missingInstance, mergeInstanceStatuses, type InstanceAnswer } from '../../cli/status-merge.js';
import type { GatesStatus, GateStatus } from '../../app/http/status/status.js';

function dirWith(files: Record<string, string | Error>): InstanceFileSystem {
  return {
    list: (dir) =>
      Object.keys(files)
        .filter((path) => path.startsWith(`${dir}/`))
        .map((path) => path.slice(dir.length + 1)),
    read: (path) => {
      const content = files[path];
      if (content === undefined || content instanceof Error) throw content ?? new Error('missing');
      return content;
    },
  };
}

describe('perGateInstances', () => {
  it('finds every gates-<gate>.env but the common one, at its HOST and PORT, a wildcard HOST on loopback', () => {
    const fs = dirWith({
      '/etc/quantum/gates-common.env': 'REDIS_URL=redis://r:1/0\n',
      '/etc/quantum/gates-governor.env': 'PORT=8044\nHOST=127.0.0.1\n',
      '/etc/quantum/gates-heat-gate.env': 'PORT=8056\nHOST=0.0.0.0\nDASHBOARD_TOKEN=own\n',
      '/etc/quantum/gates-outcomes.env': 'HOST=10.0.0.5\n',
      '/etc/quantum/quantum-gates.env': 'PORT=8080\n',
    });

    const instances = perGateInstances({}, fs);

    expect(instances.map((i) => [i.name, i.url])).toEqual([
      ['governor', 'http://127.0.0.1:8044/status'],
      ['heat-gate', 'http://127.0.0.1:8056/status'],
      ['outcomes', 'http://10.0.0.5:8080/status'],
    ]);
    expect(instances[1]!.env.DASHBOARD_TOKEN).toBe('own');
    expect(instances.map((i) => i.hosts)).toEqual([['governor'], ['heat-gate'], ['outcomes']]);
  });

  it("names the gates an instance hosts from its file's HANDLERS, else from its name (the unit's HANDLERS=%i)", () => {
    const fs = dirWith({
      '/etc/quantum/gates-governor.env': 'HANDLERS=governor,governor-cooldown\n',
      '/etc/quantum/gates-risk-budget.env': 'PORT=8049\n',
    });
    expect(perGateInstances({}, fs).map((i) => i.hosts)).toEqual([['governor', 'governor-cooldown'], ['risk-budget']]);
  });

  it('reads $QG_ENV_DIR; none where the directory has no per-gate files', () => {
    const fs = dirWith({ '/srv/qg/gates-governor.env': 'PORT=1\n', '/etc/quantum/quantum-gates.env': 'PORT=8080\n' });
    expect(perGateInstances({ QG_ENV_DIR: '/srv/qg' }, fs).map((i) => i.name)).toEqual(['governor']);
    expect(perGateInstances({}, fs)).toEqual([]);
  });

  it('stops (exit 2) on a file it cannot read, rather than show a status without that gate', () => {
    const fs = dirWith({ '/etc/quantum/gates-governor.env': Object.assign(new Error('EACCES'), { code: 'EACCES' }) });
    expect(() => perGateInstances({}, fs)).toThrow(UsageError);
    expect(() => perGateInstances({}, fs)).toThrow(/gates-governor\.env \(EACCES\).*group qt/);
  });
});

const gate = (name: string, processed = 0): GateStatus => ({
  name,
  description: name,
  mode: null,
  trigger: 'stream',
  source: `quantum:stream:${name}`,
  group: name,
  consuming: true,
  processed,
  handled: processed,
  failed: 0,
  dead_lettered: 0,
  retries: 0,
  pending: 0,
  lag: 0,
});

function status(gates: GateStatus[], extra: Record<string, unknown> = {}, reasons: GatesStatus['headline']['reasons'] = []): GatesStatus {
  return {
    generated_at: 1_795_000_000_000,
    headline: { state: reasons.some((r) => r.state === 'BLOCKING') ? 'BLOCKING' : reasons.length ? 'DEGRADED' : 'OK', reasons },
    build: { version: '0.1.0', commit: 'abc123' },
    instance: { name: `c-${gates[0]?.name ?? 'x'}`, hostname: 'h', port: 1 },
    redis_ready: true,
    gates,
    dead_letter: { stream: 'quantum:stream:dlq', length: 2 },
    redis_fault: null,
    errors: [],
    ...extra,
  } as GatesStatus;
}

describe('mergeInstanceStatuses', () => {
  const dlq = { state: 'DEGRADED' as const, text: '2 dead letters', since: null };
  const governor: InstanceAnswer = {
    name: 'governor',
    url: 'http://127.0.0.1:8044/status',
    status: status([gate('governor', 3)], { kill_switch: { active: false, from: 'governor' }, heat: { value: 0.1, from: 'governor' } }, [
      dlq,
    ]),
    sections: [
      { key: 'kill_switch', title: 'Kill switch', gates: ['governor'], views: [] },
      { key: 'heat', title: 'Heat', gates: ['heat-gate'], views: [] },
    ],
  };
  const heat: InstanceAnswer = {
    name: 'heat-gate',
    url: 'http://127.0.0.1:8056/status',
    status: status([gate('heat-gate', 5)], { kill_switch: { active: false, from: 'heat-gate' }, heat: { value: 0.1, from: 'heat-gate' } }, [
      dlq,
    ]),
    sections: governor.sections!,
  };

  it("takes each gate's row from the process hosting it and each section once, from a process hosting a gate that declares it", () => {
    const merged = mergeInstanceStatuses([governor, heat])!;

    expect(merged.gates.map((g) => [g.name, g.processed])).toEqual([
      ['governor', 3],
      ['heat-gate', 5],
    ]);
    expect(merged.kill_switch).toEqual({ active: false, from: 'governor' });
    expect(merged.heat).toEqual({ value: 0.1, from: 'heat-gate' });
    expect(merged.headline).toEqual({ state: 'DEGRADED', reasons: [dlq] });
    expect(merged.instances.map((i) => [i.name, i.gates, i.error])).toEqual([
      ['governor', ['governor'], null],
      ['heat-gate', ['heat-gate'], null],
    ]);
  });

  it('makes an instance that did not answer a reason as the governor lives with it: DEGRADED without the budgets, BLOCKING without the governor', () => {
    const budgets: InstanceAnswer = {
      name: 'risk-budget',
      url: 'http://127.0.0.1:8049/status',
      error: 'ECONNREFUSED',
      hosts: ['risk-budget'],
    };
    const withoutBudgets = mergeInstanceStatuses([governor, budgets, heat])!;
    expect(withoutBudgets.headline.state).toBe('DEGRADED');
    expect(withoutBudgets.headline.reasons[0]).toEqual({
      state: 'DEGRADED',
      text: 'instance risk-budget (http://127.0.0.1:8049/status) did not answer: ECONNREFUSED: no budgets are written, and the governor allows plans without a budget check',
      since: null,
    });
    const bridge: InstanceAnswer = { name: 'heat-bridge', url: 'u', error: 'ECONNREFUSED', hosts: ['heat-bridge'] };
    expect(missingInstance(bridge)).toEqual({
      state: 'DEGRADED',
      text: 'instance heat-bridge (u) did not answer: ECONNREFUSED: the governor decides without heat-bridge',
      since: null,
    });
    const governorDown: InstanceAnswer = { name: 'governor', url: 'u', error: 'ECONNREFUSED', hosts: ['governor', 'governor-cooldown'] };
    expect(missingInstance(governorDown).state).toBe('BLOCKING');
  });

  it('makes an instance given by URL (its gates unknown) that did not answer a BLOCKING reason, first, and lists it', () => {
    const down: InstanceAnswer = { name: 'risk-budget', url: 'http://127.0.0.1:8049/status', error: 'ECONNREFUSED' };

    const merged = mergeInstanceStatuses([governor, down, heat])!;

    expect(merged.headline.state).toBe('BLOCKING');
    expect(merged.headline.reasons[0]!.text).toBe('instance risk-budget (http://127.0.0.1:8049/status) did not answer: ECONNREFUSED');
    const text = renderGatesStatus(merged);
    expect(text).toMatch(/^risk-budget +http:\/\/127\.0\.0\.1:8049\/status +- +NO ANSWER: ECONNREFUSED$/m);
    expect(text).toMatch(/^governor +h:1 +0\.1\.0 \(abc123\) +governor$/m);
    expect(text).not.toMatch(/^instances/m);
  });

  it('is undefined when no instance answered', () => {
    expect(mergeInstanceStatuses([{ name: 'governor', url: 'u', error: 'ECONNREFUSED' }])).toBeUndefined();
  });
});
