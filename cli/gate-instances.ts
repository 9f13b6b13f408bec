import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseEnv } from 'node:util';
import { envDir } from './env-file.js';
import { UsageError } from './errors.js';

/** One process of a per-gate deployment, as its env file describes it. */
export interface GateInstance {
  /** The instance name: `governor` for gates-governor.env (quantum-gates@governor). */
  readonly name: string;
  readonly file: string;
  /** Its status endpoint: http://HOST:PORT/status, a wildcard HOST asked on loopback. */
  readonly url: string;
  /** The variables its own file sets (the dashboard credentials among them, when it has its own). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The gates it runs: its file's HANDLERS, else the unit's HANDLERS=%i (its name). */
  readonly hosts: readonly string[];
}

/** Reads a directory's listing and files; the real file system unless a test gives another. */
export interface InstanceFileSystem {
  /** The directory's entries; [] when it does not exist. */
  list(dir: string): string[];
  read(path: string): string;
}

const realFs: InstanceFileSystem = {
  list: (dir) => {
    try {
      return readdirSync(dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
  },
  read: (path) => readFileSync(path, 'utf8'),
};

/** The per-gate env files as docs/operations.md §1 installs them: gates-<gate>.env beside gates-common.env. */
const INSTANCE_FILE = /^gates-(.+)\.env$/;
const SHARED_FILE = 'gates-common.env';
/** The runtime's defaults (runtime/host/config.ts), which an instance's file may leave out. */
const DEFAULT_PORT = '8080';
const WILDCARD_HOSTS = new Set(['', '0.0.0.0', '::', '[::]']);

/**
 * Every per-gate instance whose env file is in $QG_ENV_DIR (default /etc/quantum), in name
 * order: where `quantum-gates status` asks when the gates run one process per gate. A file that
 * is there but cannot be read stops the command (exit 2), as the CLI's own env file does: leaving
 * it out would show a status without that gate and say nothing.
 */
export function perGateInstances(env: Readonly<Record<string, string | undefined>>, fs: InstanceFileSystem = realFs): GateInstance[] {
  const dir = envDir(env);
  const names = fs
    .list(dir)
    .filter((entry) => entry !== SHARED_FILE && INSTANCE_FILE.test(entry))
    .sort();
  return names.map((entry) => {
    const file = join(dir, entry);
    let vars: Record<string, string | undefined>;
    try {
      vars = parseEnv(fs.read(file));
    } catch (error) {
      throw new UsageError(
        `cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): run as a user of group qt, or give the instances with --url URL,URL`,
        'status',
      );
    }
    const host = vars.HOST?.trim() ?? '';
    const port = vars.PORT?.trim() || DEFAULT_PORT;
    const address = WILDCARD_HOSTS.has(host) ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
    const name = INSTANCE_FILE.exec(entry)![1]!;
    const hosts = (vars.HANDLERS?.trim() || name)
      .split(',')
      .map((h) => h.trim())
      .filter(Boolean);
    return { name, file, url: `http://${address}:${port}/status`, env: vars, hosts };
  });
}
