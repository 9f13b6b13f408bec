import { parseCommandArgs } from '../args.js';
import type { Command } from '../command.js';
import { ExitCode, OperationalError, UsageError } from '../errors.js';
import { httpGet, type HttpAnswer } from '../http-get.js';
import type { CliIo } from '../io.js';
import { renderGatesStatus } from '../gates-status-view.js';
import { envDir } from '../env-file.js';
import { perGateInstances, type GateInstance } from '../gate-instances.js';
import { mergeInstanceStatuses, missingInstance, type InstanceAnswer } from '../status-merge.js';
import { privateRedisDir, recordedGatesUrl, type GatesStatus, type SectionDescription } from '../../app/cli-door.js';
import { ownRedis, redisMismatch, type OwnRedis } from '../redis-match.js';

const help = [
  'Usage: quantum-gates status [--url URL[,URL...]] [--json]',
  '',
  "Shows the running gates' status (GET /status): first the headline (OK, DEGRADED or",
  "BLOCKING, and why), the version and instance that answered; then each gate's mode,",
  'processed / failed / dead-lettered counts, consumer pending and lag, portfolio heat,',
  'budgets, kill switch and disarm, and the latest decisions. Times are UTC.',
  '',
  'The server is $QG_URL (default http://127.0.0.1:$PORT, PORT default 8080); with neither, the',
  "address the npm start running on this data directory ($QG_DATA_DIR, default the checkout's",
  '.data) recorded, where one runs. Credentials come from DASHBOARD_USER / DASHBOARD_PASSWORD',
  '(basic) or DASHBOARD_TOKEN (bearer), the same variables the server is configured with.',
  '',
  'One process per gate (quantum-gates@<gate>): without $QG_URL, --url or $PORT, or when nothing',
  'listens on :8080, it asks every instance whose env file is in $QG_ENV_DIR (default',
  '/etc/quantum: gates-<gate>.env, at its HOST and PORT, with its credentials) and shows one',
  "status: each gate's row from the process that hosts it, the sections once, the worst",
  'headline. An instance that does not answer is BLOCKING when it hosts the governor (or is',
  'named by URL), else DEGRADED: the governor decides without it. A comma-separated $QG_URL or',
  '--url names the instances instead.',
  '',
  'Options:',
  '  --url URL[,URL]  the server (or the instances), overriding $QG_URL',
  '  --json           print the /status JSON as served (across instances: merged, with "instances")',
  '',
  'The status shown is about the Redis this command is told to use: when REDIS_URL (REDIS_HOST,',
  'REDIS_CLUSTER_NODES, REDIS_SENTINELS) or an env file names one, an instance running on another',
  'Redis (told by the run_id it reports in /status) is another deployment and is not shown.',
  '',
  'Exit codes (with --json too), one per headline, so that `quantum-gates status || page` pages:',
  '  0  OK',
  '  1  no status: the server cannot be reached, refuses the credentials, or runs on another',
  '     Redis than the one named (across instances: none answered)',
  '  3  DEGRADED: something needs a person, trading goes on',
  '  4  BLOCKING: trading is held up (Redis unreachable, kill switch on, governor disarmed, the',
  '     instance hosting the governor not answering)',
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

type Env = Readonly<Record<string, string | undefined>>;

function authHeaders(env: Env): Record<string, string> {
  const { DASHBOARD_USER: user, DASHBOARD_PASSWORD: password, DASHBOARD_TOKEN: token } = env;
  if (token?.trim()) return { authorization: `Bearer ${token.trim()}` };
  if (user && password) return { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
  return {};
}

/** Nothing answered at the address (as opposed to an answer the CLI cannot use). */
class UnreachableError extends OperationalError {
  constructor(
    message: string,
    /** ECONNREFUSED when nothing listens there. */
    readonly code: string | undefined,
    /** The cause alone, for a line of a table. */
    readonly why: string,
  ) {
    super(message);
  }
}

export async function fetchStatus(io: CliIo, url: string, env: Env = io.env): Promise<string> {
  let response: HttpAnswer;
  try {
    // no-cache: a read begun after this request, not the server's cached one (up to STATUS_CACHE_MS
    // old), so a status right after this CLI's own `kill on` or `disarm` shows it.
    response = await httpGet(url, { accept: 'application/json', 'cache-control': 'no-cache', ...authHeaders(env) }, TIMEOUT_MS);
  } catch (error) {
    const { code, message } = error as { code?: string; message: string };
    const why = code ?? message;
    throw new UnreachableError(
      `cannot reach quantum-gates at ${url}: ${why}\n` + '  Is it running (quantum-gates start)? Set QG_URL (or PORT) to where it listens.',
      code,
      why,
    );
  }
  const { status, body } = response;
  if (status === 401 || status === 403) {
    throw new OperationalError(
      `${url} refused the credentials (HTTP ${status}); set DASHBOARD_USER and DASHBOARD_PASSWORD, or DASHBOARD_TOKEN, as the server has them`,
    );
  }
  if (status < 200 || status >= 300) throw new OperationalError(`${url} answered HTTP ${status}: ${body.slice(0, 300)}`);
  return body;
}

/**
 * How the gates' sections are drawn (GET /status/sections), for those the terminal view does not
 * lay out itself. A server without it (older) or failing to answer leaves them listed as JSON.
 */
async function fetchSections(io: CliIo, statusUrl: string, env: Env = io.env): Promise<SectionDescription[]> {
  try {
    const parsed = JSON.parse(await fetchStatus(io, new URL('/status/sections', statusUrl).toString(), env)) as unknown;
    return Array.isArray(parsed) ? (parsed as SectionDescription[]) : [];
  } catch {
    return [];
  }
}

/** Where to ask: one server, or the instances of a per-gate deployment. */
type Targets =
  /** fallback: whether to ask the per-gate instances when nothing listens at url (read only then). */
  | { readonly kind: 'one'; readonly url: string; readonly fallback: boolean }
  | { readonly kind: 'instances'; readonly instances: readonly Instance[] };

/** An instance to ask; `hosts`, the gates its env file names, is unknown for one given by URL. */
interface Instance {
  readonly name: string;
  readonly url: string;
  readonly env: Env;
  readonly hosts?: readonly string[];
}

function targets(io: CliIo, override: string | undefined): Targets {
  const given = override ?? io.env.QG_URL?.trim();
  if (given !== undefined && given.includes(',')) {
    const urls = given
      .split(',')
      .map((u) => u.trim())
      .filter(Boolean)
      .map((u) => statusUrl(io, u));
    return { kind: 'instances', instances: urls.map((url) => ({ name: new URL(url).host, url, env: io.env })) };
  }
  // A server named by QG_URL, --url or PORT (the all-in-one env file sets PORT=8080) is the one asked.
  if (given || io.env.PORT?.trim()) return { kind: 'one', url: statusUrl(io, override), fallback: false };
  // Per gate, gates-common.env has no PORT: every instance is asked. Otherwise :8080, and the
  // instances only if nothing listens there.
  if (io.envFile !== undefined && io.envFile.endsWith('/gates-common.env')) {
    const instances = perGateInstances(io.env);
    if (instances.length > 0) return { kind: 'instances', instances: instances.map((i) => withCredentials(io, i)) };
  }
  // The npm start holding this data directory ($QG_DATA_DIR or the checkout's .data) said where it
  // listens: a second copy of the gates runs on another PORT than 8080.
  const recorded = recordedGatesUrl(privateRedisDir(io.env));
  if (recorded !== undefined) return { kind: 'one', url: statusUrl(io, recorded), fallback: false };
  return { kind: 'one', url: statusUrl(io), fallback: true };
}

/** An instance is asked with its own file's dashboard credentials where it has any, else the CLI's (gates-common.env's). */
function withCredentials(io: CliIo, instance: GateInstance): Instance {
  const own = Object.fromEntries(Object.entries(instance.env).filter(([name, value]) => name.startsWith('DASHBOARD_') && value));
  return { name: instance.name, url: instance.url, env: { ...io.env, ...own }, hosts: instance.hosts };
}

async function askInstance(io: CliIo, instance: Instance, own: OwnRedis | undefined): Promise<InstanceAnswer> {
  const named = { name: instance.name, url: instance.url, ...(instance.hosts ? { hosts: instance.hosts } : {}) };
  try {
    const body = await fetchStatus(io, instance.url, instance.env);
    const status = JSON.parse(body) as GatesStatus;
    if (!Array.isArray(status?.gates)) return { ...named, error: 'did not answer a gates status' };
    const mismatch = own === undefined ? undefined : redisMismatch(own, status.instance);
    if (mismatch !== undefined) return { ...named, error: `another deployment: ${mismatch}`, otherRedis: true };
    return { ...named, status, sections: await fetchSections(io, instance.url, instance.env) };
  } catch (error) {
    return { ...named, error: error instanceof UnreachableError ? error.why : (error as Error).message };
  }
}

async function showInstances(io: CliIo, instances: readonly Instance[], json: boolean, own: OwnRedis | undefined): Promise<number> {
  const answers = await Promise.all(instances.map((i) => askInstance(io, i, own)));
  const merged = mergeInstanceStatuses(answers);
  if (merged === undefined) {
    throw new OperationalError(
      `no instance answered:\n${answers.map((a) => `  ${a.name} ${a.url}: ${a.error ?? ''}`).join('\n')}\n` +
        '  Are they running (systemctl status quantum-gates@*)?',
    );
  }
  const sections = answers.flatMap((a) => a.sections ?? []).filter((d, i, all) => all.findIndex((e) => e.key === d.key) === i);
  io.out(json ? JSON.stringify(merged, null, 2) : renderGatesStatus(merged, { sections }));
  const missing = answers.filter((a) => a.error !== undefined).map(missingInstance);
  for (const reason of missing) io.err(`quantum-gates: ${reason.text}`);
  return headlineExit(merged.headline);
}

/** The exit code a headline maps to: 0 OK, 3 DEGRADED, 4 BLOCKING (an answer without one, from an older build: 0). */
export function headlineExit(headline: { readonly state?: unknown } | null | undefined): number {
  if (headline?.state === 'BLOCKING') return ExitCode.blocking;
  if (headline?.state === 'DEGRADED') return ExitCode.degraded;
  return ExitCode.ok;
}

export const statusCommand: Command = {
  name: 'status',
  summary: 'show the running gates (GET /status) in the terminal, one status across per-gate instances',
  help,
  async run(argv, io) {
    const args = parseCommandArgs('status', argv, { url: { type: 'string' }, json: { type: 'boolean' } });
    const target = targets(io, args.values.url);
    // The Redis this command was told to use: an instance running on another is another deployment.
    const own = await ownRedis(io);
    if (own?.error !== undefined) io.err(`quantum-gates: the Redis named (${own.namedBy}) does not answer: ${own.error}`);
    if (target.kind === 'instances') return showInstances(io, target.instances, args.values.json === true, own);
    const url = target.url;
    let body: string;
    try {
      body = await fetchStatus(io, url);
    } catch (error) {
      const instances =
        target.fallback && error instanceof UnreachableError && error.code === 'ECONNREFUSED' ? perGateInstances(io.env) : [];
      if (instances.length === 0) throw error;
      io.err(
        `quantum-gates: nothing listens on ${new URL(url).host}; asking the ${instances.length} per-gate instances in ${envDir(io.env)}`,
      );
      return showInstances(
        io,
        instances.map((i) => withCredentials(io, i)),
        args.values.json === true,
        own,
      );
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      throw new OperationalError(`${url} did not answer JSON: ${body.slice(0, 200)}`);
    }
    const instance = (parsed as Partial<GatesStatus> | null)?.instance;
    if (own === undefined) {
      if (instance?.redis)
        io.err(`quantum-gates: the gates at ${url} run on Redis ${instance.redis} (not compared: nothing named a Redis)`);
    } else {
      if (!instance?.redis) io.err(`quantum-gates: the gates at ${url} do not say which Redis they run on (an older build): not compared`);
      const mismatch = redisMismatch(own, instance);
      if (mismatch !== undefined)
        throw new OperationalError(
          `the gates at ${url} are another deployment: ${mismatch}. Not showing their status; ` +
            'point QG_URL (or --url) at the gates that run on the Redis named, or name theirs',
        );
    }
    const exit = headlineExit((parsed as Partial<GatesStatus> | null)?.headline);
    if (args.values.json) {
      io.out(JSON.stringify(parsed, null, 2));
      return exit;
    }
    io.out(renderGatesStatus(parsed, { sections: await fetchSections(io, url) }));
    return exit;
  },
};
