import { describe, expect, it } from 'vitest';
import { queueMetricsText, type MetricsQueue } from '../../runtime/host/server.js';
import { prometheusTextProblems } from '../support/prometheus-text.js';

/** What bullmq 5's Queue.exportPrometheusMetrics() returns, byte for byte (queue-getters.js). */
function bullmqExport(name: string, counts: Record<string, number>, completed: number, failed: number): string {
  return [
    '# HELP bullmq_job_count Number of jobs in the queue by state',
    '# TYPE bullmq_job_count gauge',
    ...Object.entries(counts).map(([state, count]) => `bullmq_job_count{queue="${name}", state="${state}"} ${count}`),
    '# HELP bullmq_job_completed_total Total number of completed jobs',
    '# TYPE bullmq_job_completed_total counter',
    `bullmq_job_completed_total{queue="${name}"} ${completed}`,
    '# HELP bullmq_job_failed_total Total number of failed jobs',
    '# TYPE bullmq_job_failed_total counter',
    `bullmq_job_failed_total{queue="${name}"} ${failed}`,
  ].join('\n');
}

const queue = (name: string, text: Promise<string>): MetricsQueue => ({ name, exportPrometheusMetrics: () => text });
const nothingRegistered = { registered: () => false, timeoutMs: 200 };

describe('queueMetricsText', () => {
  const ticks = queue('risk-budget', Promise.resolve(bullmqExport('risk-budget', { active: 0, completed: 100, failed: 2 }, 1234, 2)));
  const cooldowns = queue('governor-cooldown', Promise.resolve(bullmqExport('governor-cooldown', { active: 0, delayed: 3 }, 7, 0)));

  it('merges every queue into one family each: one HELP and one TYPE, then all the samples', async () => {
    const text = await queueMetricsText([ticks, cooldowns], nothingRegistered);

    expect(text.match(/^# HELP bullmq_job_count /gm)).toHaveLength(1);
    expect(text.match(/^# TYPE bullmq_job_count gauge$/gm)).toHaveLength(1);
    expect(text.match(/^# TYPE bullmq_job_completed_total counter$/gm)).toHaveLength(1);
    expect(text).toContain(
      'bullmq_job_count{queue="risk-budget", state="completed"} 100\nbullmq_job_count{queue="risk-budget", state="failed"} 2\nbullmq_job_count{queue="governor-cooldown", state="active"} 0',
    );
    expect(text).toMatch(/^bullmq_job_completed_total\{queue="governor-cooldown"\} 7$/m);
    expect(text.endsWith('\n')).toBe(true);
    expect(prometheusTextProblems(text)).toEqual([]);
  });

  it('the same text unmerged is what Prometheus would refuse (the reason for merging)', () => {
    const concatenated = `${bullmqExport('a', { active: 0 }, 0, 0)}\n${bullmqExport('b', { active: 0 }, 0, 0)}\n`;
    expect(prometheusTextProblems(concatenated)).toContain('line 10: second HELP line for bullmq_job_count');
  });

  it('leaves out a family the registry already exposes, so no family is defined twice', async () => {
    const text = await queueMetricsText([ticks], { registered: (name) => name === 'bullmq_job_failed_total', timeoutMs: 200 });
    expect(text).toContain('bullmq_job_count{');
    expect(text).not.toContain('bullmq_job_failed_total');
  });

  it('a queue that fails or does not answer in time leaves a comment and the others still report', async () => {
    const broken = queue('broken', Promise.reject(new Error('Connection is closed.\nat somewhere')));
    const silent = queue('silent', new Promise<string>(() => undefined));
    const text = await queueMetricsText([broken, ticks, silent], { registered: () => false, timeoutMs: 50 });

    expect(text).toMatch(/^bullmq_job_completed_total\{queue="risk-budget"\} 1234$/m);
    expect(text).toContain('# bullmq queue "broken": metrics unavailable (Connection is closed. at somewhere)');
    expect(text).toContain('# bullmq queue "silent": metrics unavailable (no answer within 50 ms)');
    expect(prometheusTextProblems(text)).toEqual([]);
  });

  it('no queue, no text', async () => {
    expect(await queueMetricsText([], nothingRegistered)).toBe('');
  });
});
