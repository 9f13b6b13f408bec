import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseHeatMetric, scrapeHeat } from '../../handlers/risk-budget/heat-scrape.js';

describe('parseHeatMetric', () => {
  it.each([
    {
      case: 'prefers the composite metric of the original deployment',
      text: 'p26_heat_value 0.9\nportfolio_heat_composite_normalized 0.42\n',
      found: { value: 0.42, metric: 'portfolio_heat_composite_normalized' },
    },
    {
      case: 'falls back to p26_heat_value',
      text: '# HELP p26_heat_value Current portfolio heat\n# TYPE p26_heat_value gauge\np26_heat_value 0.65\n',
      found: { value: 0.65, metric: 'p26_heat_value' },
    },
    {
      case: 'reads a labelled sample with a timestamp',
      text: 'portfolio_heat_composite_normalized{service="p26"} 0.3 1738015443000\n',
      found: { value: 0.3, metric: 'portfolio_heat_composite_normalized' },
    },
    { case: 'ignores a metric whose name merely starts with the same text', text: 'p26_heat_value_total 3\n', found: undefined },
    { case: 'ignores NaN and negative samples', text: 'p26_heat_value NaN\nportfolio_heat_composite_normalized -1\n', found: undefined },
    { case: 'finds nothing in an unrelated exposition', text: 'up 1\n', found: undefined },
  ])('$case', ({ text, found }) => {
    expect(parseHeatMetric(text)).toEqual(found);
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
    expect(await scrapeHeat(`${base}/metrics`, 2000)).toEqual({ ok: true, value: 0.5, metric: 'p26_heat_value' });
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
