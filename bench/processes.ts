import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

export const root = resolve(import.meta.dirname, '..');

/** USER_HZ: 100 on every Linux this runs on (getconf CLK_TCK). */
const CLOCK_TICKS_PER_SECOND = 100;

export interface Spawned {
  readonly child: ChildProcess;
  /** Peak resident set size so far, in bytes (VmHWM). */
  peakRss(): number;
  /** CPU time used so far, user and system, all threads, in milliseconds. */
  cpuMs(): number;
  stop(): Promise<void>;
  output(): string;
}

/** Runs a TypeScript entry point with tsx as its own process, as `npm start` would. */
export function spawnTs(entry: string, env: Record<string, string>, extraNodeArgs: readonly string[] = []): Spawned {
  return spawnNode([...extraNodeArgs, '--import', 'tsx', entry], env);
}

/** Runs node with these arguments as its own process (the entry point among them). */
export function spawnNode(args: string[], env: Record<string, string>): Spawned {
  return spawnProcess(process.execPath, args, env);
}

/** Runs `command` with these arguments as its own process, from the checkout's root. */
export function spawnProcess(command: string, args: string[], env: Record<string, string>): Spawned {
  const child = spawn(command, args, {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-20_000)));
  child.stderr?.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-20_000)));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    child,
    output: () => output,
    peakRss() {
      try {
        const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
        const match = /VmHWM:\s+(\d+) kB/.exec(status);
        return match ? Number(match[1]) * 1024 : 0;
      } catch {
        return 0;
      }
    },
    cpuMs() {
      try {
        // Fields 14 and 15 of /proc/<pid>/stat (after the parenthesised name), in clock ticks.
        const fields = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
        return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
      } catch {
        return 0;
      }
    },
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The flags `npm start` and the units run the gates with (package.json, deploy/). */
export const GATES_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=2', '--heap-growing-percent=50'];

/**
 * BENCH_PROFILE_DIR: the gates process writes a V8 CPU profile there on exit, to see where a row's
 * time goes; `intervalUs`, how often it samples (V8's default 1,000).
 */
export function profileFlags(intervalUs?: number): string[] {
  const dir = process.env.BENCH_PROFILE_DIR;
  if (dir === undefined || dir === '') return [];
  return ['--cpu-prof', ...(intervalUs === undefined ? [] : [`--cpu-prof-interval=${intervalUs}`]), `--cpu-prof-dir=${resolve(dir)}`];
}

/** The value at percentile `p` (0-100) of `sorted` (ascending), NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
