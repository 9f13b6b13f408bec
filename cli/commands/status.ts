import { parseCommandArgs } from '../args.js';
import type { Command } from '../command.js';
import { ExitCode, OperationalError, UsageError } from '../errors.js';
import type { CliIo } from '../io.js';
import { renderGatesStatus } from '../gates-status-view.js';
import type { SectionDescription } from '../../runtime/http/status.js';

const help = [
  'Usage: quantum-gates status [--url URL] [--json]',
  '',
  "Shows the running gates' status (GET /status): first the headline (OK, DEGRADED or",
  "BLOCKING, and why), the version and instance that answered; then each gate's mode,",
  'processed / failed / dead-lettered counts, consumer pending and lag, portfolio heat,',
  'budgets, kill switch and disarm, and the latest decisions. Times are UTC.',
  '',
  'The server is $QG_URL (default http://127.0.0.1:$PORT, PORT default 8080). Credentials come',
  'from DASHBOARD_USER / DASHBOARD_PASSWORD (basic) or DASHBOARD_TOKEN (bearer), the same',
  'variables the server is configured with.',
  '',
  'Options:',
  '  --url URL        the server, overriding $QG_URL',
  '  --json           print the /status JSON as served',
  '',
  'Exit 1 when the server cannot be reached or refuses the credentials.',
].join('\n');

const TIMEOUT_MS = 5000;

export function statusUrl(io: CliIo, override?: string): string {
  const base = override ?? (io.env.QG_URL?.trim() || `http://127.0.0.1:${io.env.PORT?.trim() || '8080'}`);
  const source = override === undefined ? 'QG_URL' : '--url';
  let url: URL;
  try {
    url = new URL('/status', base.endsWith('/') ? base : `${base}/`);
  } catch {
    throw new UsageError(`${source} must be an http:// or https:// URL (got "${base}")`, 'status');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new UsageError(`${source} must be an http:// or https:// URL (got "${base}")`, 'status');
  return url.toString();
}

function authHeaders(io: CliIo): Record<string, string> {
  const { DASHBOARD_USER: user, DASHBOARD_PASSWORD: password, DASHBOARD_TOKEN: token } = io.env;
  if (token?.trim()) return { authorization: `Bearer ${token.trim()}` };
  if (user && password) return { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
  return {};
}

export async function fetchStatus(io: CliIo, url: string): Promise<string> {
  let response: Response;
  try {
    response = await fetch(url, { headers: { accept: 'application/json', ...authHeaders(io) }, signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new OperationalError(
      `cannot reach quantum-gates at ${url}: ${cause?.code ?? cause?.message ?? (error as Error).message}\n` +
        '  Is it running (quantum-gates start)? Set QG_URL (or PORT) to where it listens.',
    );
  }
  const body = await response.text();
  if (response.status === 401 || response.status === 403) {
    throw new OperationalError(
      `${url} refused the credentials (HTTP ${response.status}); set DASHBOARD_USER and DASHBOARD_PASSWORD, or DASHBOARD_TOKEN, as the server has them`,
    );
  }
  if (!response.ok) throw new OperationalError(`${url} answered HTTP ${response.status}: ${body.slice(0, 300)}`);
  return body;
}

/**
 * How the gates' sections are drawn (GET /status/sections), for those the terminal view does not
 * lay out itself. A server without it (older) or failing to answer leaves them listed as JSON.
 */
async function fetchSections(io: CliIo, statusUrl: string): Promise<SectionDescription[]> {
  try {
    const parsed = JSON.parse(await fetchStatus(io, new URL('/status/sections', statusUrl).toString())) as unknown;
    return Array.isArray(parsed) ? (parsed as SectionDescription[]) : [];
  } catch {
    return [];
  }
}

export const statusCommand: Command = {
  name: 'status',
  summary: 'show the running gates (GET /status) in the terminal',
  help,
  async run(argv, io) {
    const args = parseCommandArgs('status', argv, { url: { type: 'string' }, json: { type: 'boolean' } });
    const url = statusUrl(io, args.values.url);
    const body = await fetchStatus(io, url);
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      throw new OperationalError(`${url} did not answer JSON: ${body.slice(0, 200)}`);
    }
    if (args.values.json) {
      io.out(JSON.stringify(parsed, null, 2));
      return ExitCode.ok;
    }
    io.out(renderGatesStatus(parsed, { sections: await fetchSections(io, url) }));
    return ExitCode.ok;
  },
};
