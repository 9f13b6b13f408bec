import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseHeatMetric, scrapeHeat } from '../../handlers/risk-budget/heat-scrape.js';

describe('parseHeatMetric (fetch_portfolio_heat)', () => {
  it.each([
    {
      case: 'reads p26_heat_value',
      text: '# HELP p26_heat_value Current portfolio heat\n# TYPE p26_heat_value gauge\np26_heat_value 0.65\n',
      found: { ok: true, value: 0.65 },
    },
    {
      case: 'ignores the composite metric of seed 003, as the original code did',
      text: 'portfolio_heat_composite_normalized 0.42\n',
      found: undefined,
    },
    {
      case: 'takes the first line starting with the name, a longer name included',
      text: 'p26_heat_value_total 3\np26_heat_value 0.5\n',
      found: { ok: true, value: 3 },
    },
    {
      case: 'reads a labelled sample (second word)',
      text: 'p26_heat_value{service="p26"} 0.3 1738015443000\n',
      found: { ok: true, value: 0.3 },
    },
    { case: 'skips a line with one word', text: 'p26_heat_value\np26_heat_value 0.2\n', found: { ok: true, value: 0.2 } },
    { case: 'keeps NaN and negative values, as float() does', text: 'p26_heat_value NaN\n', found: { ok: true, value: Number.NaN } },
    { case: 'reports a value float() rejects', text: 'p26_heat_value x\n', found: { ok: false, problem: 'unparseable' } },
  ])('$case', ({ text, found }) => {
    const result = parseHeatMetric(text);
    if (found === undefined) expect(result).toMatchObject({ ok: false, problem: 'metric_absent' });
    else expect(result).toMatchObject(found);
  });
});

describe('scrapeHeat', () => {
  let server: Server;
  let base: string;
  beforeAll(async () => {
    server = createServer((request, response) => {
      if (request.url === '/metrics') response.end('# TYPE p26_heat_value gauge\np26_heat_value 0.5\n');
      else if (request.url === '/empty') response.end('up 1\n');
      else response.writeHead(500).end('boom');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('reads the heat from a metrics endpoint', async () => {
    expect(await scrapeHeat(`${base}/metrics`, 2000)).toEqual({ ok: true, value: 0.5 });
  });

  it('reports an HTTP error without throwing', async () => {
    expect(await scrapeHeat(`${base}/fail`, 2000)).toMatchObject({ ok: false, problem: 'http_error' });
  });

  it('reports a response without the metric', async () => {
    expect(await scrapeHeat(`${base}/empty`, 2000)).toMatchObject({ ok: false, problem: 'metric_absent' });
  });

  it('reports an endpoint nobody answers on', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    expect(await scrapeHeat(`http://127.0.0.1:${port}/metrics`, 2000)).toMatchObject({ ok: false, problem: 'unreachable' });
  });
});
