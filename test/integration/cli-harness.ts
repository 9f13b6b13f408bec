import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { isolatedEnv } from '../support/own-dirs.js';

const root = resolve(import.meta.dirname, '../..');
const bin = resolve(root, 'bin/quantum-gates.js');

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs the real `quantum-gates` binary as an operator would. The environment is built from
 * scratch, so a REDIS_URL or PORT of the machine running the tests never leaks in, and with a
 * data directory and env-file directory of the tests' own (isolatedEnv), so it never reaches the
 * checkout's running `npm start` or /etc/quantum's Redis.
 */
export function runCli(args: readonly string[], env: Record<string, string> = {}, { timeoutMs = 30_000 } = {}): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    // The file itself, as an operator runs it: its shebang (`node --`) is part of what is tested.
    const child = spawn(bin, [...args], {
      cwd: root,
      env: { HOME: process.env.HOME ?? '/tmp', PATH: process.env.PATH ?? '', LOG_LEVEL: 'silent', ...isolatedEnv(), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`quantum-gates ${args.join(' ')} did not finish within ${timeoutMs} ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}

/** Runs the binary and parses its --json output, failing loudly with stderr when it did not succeed. */
export async function runCliJson<T = Record<string, unknown>>(args: readonly string[], env: Record<string, string>): Promise<T> {
  const result = await runCli([...args, '--json'], env);
  if (result.code !== 0) throw new Error(`quantum-gates ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}
