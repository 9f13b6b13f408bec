import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseEnv } from 'node:util';
import { UsageError } from './errors.js';

/** Where the systemd units read their env files (deploy/systemd), unless $QG_ENV_DIR names another directory. */
export const DEFAULT_ENV_DIR = '/etc/quantum';

/** The directory of the units' env files: $QG_ENV_DIR (a copy of them elsewhere, a test's), else /etc/quantum. */
export function envDir(env: Readonly<Record<string, string | undefined>>): string {
  return env.QG_ENV_DIR?.trim() || DEFAULT_ENV_DIR;
}

/** The env files the systemd units read, in the order the CLI looks for them: its default on a server. */
export function unitEnvFiles(env: Readonly<Record<string, string | undefined>>): string[] {
  const dir = envDir(env);
  return [join(dir, 'quantum-gates.env'), join(dir, 'gates-common.env')];
}

export interface EnvFileChoice {
  /** argv without --env-file / --no-env-file / --private. */
  readonly argv: string[];
  /** The file read, if any. */
  readonly file?: string;
  /** The file is a unit's, found in the env directory, not named by --env-file. */
  readonly byDefault?: true;
  /**
   * --private: the private redis-server of this checkout's `npm start`. An env file named on purpose
   * (--env-file, $QG_ENV_FILE) still gives its settings; the units' files are not read by default.
   */
  readonly privateRedis?: true;
  /** The environment the command sees: the shell's variables win over the file's. */
  readonly env: Readonly<Record<string, string | undefined>>;
}

export interface EnvFileSystem {
  exists(path: string): boolean;
  read(path: string): string;
}

export const realFs: EnvFileSystem = {
  exists: (path) => {
    try {
      readFileSync(path);
      return true;
    } catch (error) {
      // A file that is there but unreadable must be reported, not skipped: skipping it is how a
      // command silently reached 127.0.0.1:6379 instead of the gates' Redis.
      return (error as NodeJS.ErrnoException).code !== 'ENOENT';
    }
  },
  read: (path) => readFileSync(path, 'utf8'),
};

/**
 * Takes --env-file PATH (or --env-file=PATH), --no-env-file or --private out of argv. --private
 * picks the Redis, the file (or $QG_ENV_FILE) the other settings: a what-if's HEAT_MIN is the
 * rehearsal's whichever Redis it reads. Without them,
 * $QG_ENV_FILE names the file; without it, the
 * first of the units' env files that exists is read (in $QG_ENV_DIR, default /etc/quantum), so on
 * a server the CLI talks to the Redis the gates use. The shell's own variables still win (an explicit REDIS_URL=... quantum-gates ...).
 */
export function chooseEnvFile(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  fs: EnvFileSystem = realFs,
): EnvFileChoice {
  const rest: string[] = [];
  let explicit: string | undefined;
  let none = false;
  let privateRedis = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--no-env-file') none = true;
    else if (arg === '--private') privateRedis = true;
    else if (arg === '--env-file') {
      explicit = argv[++i];
      if (explicit === undefined || explicit.startsWith('-')) throw new UsageError('--env-file needs a path');
    } else if (arg.startsWith('--env-file=')) explicit = arg.slice('--env-file='.length);
    else rest.push(arg);
  }
  const privately = privateRedis ? { privateRedis: true as const } : {};
  if (none) return { argv: rest, env, ...privately };
  // $QG_ENV_FILE as --env-file: through npx, whose own Node reads a script's --env-file as its own
  // option (and exits 9 when it cannot read the file), the variable reaches the CLI.
  explicit ??= env.QG_ENV_FILE?.trim() || undefined;
  // With --private a units' file is never read by default: it names the servers' Redis, not this checkout's.
  const file = explicit ?? (privateRedis ? undefined : unitEnvFiles(env).find((path) => fs.exists(path)));
  if (file === undefined) return { argv: rest, env, ...privately };
  let text: string;
  try {
    text = fs.read(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // The group advice is for a file that is there but closed to this user (EACCES), not a wrong path.
    if (code === 'ENOENT' || code === 'ENOTDIR')
      throw new UsageError(
        `no such file: ${file} (--env-file or QG_ENV_FILE): give the path of an env file, or --no-env-file to use only the shell's variables`,
      );
    throw new UsageError(
      `cannot read ${file} (${code ?? (error as Error).message}): run as a user of group qt, pass --env-file PATH, or --no-env-file to use only the shell's variables`,
    );
  }
  return {
    argv: rest,
    file,
    env: { ...parseEnv(text), ...env },
    ...(explicit === undefined ? { byDefault: true as const } : {}),
    ...privately,
  };
}
