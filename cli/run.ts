import { commandSides, commands, groupHelp, mainHelp } from './commands/index.js';
import { ConfigError } from '../schemas/env.js';
import { buildInfo, releaseName, didYouMean } from '../app/cli-door.js';
import { chooseEnvFile } from './env-file.js';
import { ExitCode, OperationalError, UsageError } from './errors.js';
import type { CliIo } from './io.js';

/**
 * Finds the command named by the leading words of argv ("dlq replay ..."), runs it and maps
 * its outcome to an exit code: 0 ok, 1 operational failure, 2 usage or invalid input.
 */
export async function runCli(rawArgv: readonly string[], rawIo: CliIo): Promise<number> {
  let argv: readonly string[];
  let io: CliIo;
  try {
    const chosen = chooseEnvFile(rawArgv, rawIo.env);
    argv = chosen.argv;
    io = {
      ...rawIo,
      ...(chosen.file === undefined ? {} : { env: chosen.env, envFile: chosen.file }),
      ...(chosen.byDefault ? { envFileByDefault: { shellEnv: rawIo.env } } : {}),
      ...(chosen.privateRedis ? { privateRedis: chosen.privateRedis } : {}),
    };
  } catch (error) {
    if (error instanceof UsageError) return usage(rawIo, error.message);
    throw error;
  }
  const [first, second] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    io.out(mainHelp());
    return first === undefined ? ExitCode.usage : ExitCode.ok;
  }
  if (first === '--version' || first === '-V' || first === '-v') {
    io.out(version());
    return ExitCode.ok;
  }
  const command = commands.find((c) => c.name === `${first} ${second}`) ?? commands.find((c) => c.name === first);
  if (!command) {
    const group = groupHelp(first);
    if (group === undefined)
      return usage(
        io,
        `unknown command "${first}"${didYouMean(first, [...new Set(commands.map((c) => c.name.split(' ')[0]!))])}`,
        mainHelp(),
      );
    if (second === undefined || second === '--help' || second === '-h') {
      io.out(group);
      return second === undefined ? ExitCode.usage : ExitCode.ok;
    }
    const members = commands.filter((c) => c.name.startsWith(`${first} `)).map((c) => c.name.split(' ')[1]!);
    return usage(io, `unknown ${first} command "${second}"${didYouMean(second, members, `${first} `, commandSides)}`, group);
  }
  const rest = argv.slice(command.name.split(' ').length);
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(command.help);
    return ExitCode.ok;
  }
  try {
    return await command.run(rest, io);
  } catch (error) {
    if (error instanceof UsageError) return usage(io, error.message, undefined, error.command ?? command.name);
    if (error instanceof OperationalError) {
      io.err(`quantum-gates ${command.name}: ${error.message}`);
      return ExitCode.failure;
    }
    // A bad variable in the environment (the one the gates would also refuse to start with).
    if (error instanceof ConfigError) {
      io.err(`quantum-gates ${command.name}: ${error.message}`);
      return ExitCode.failure;
    }
    io.err(`quantum-gates ${command.name}: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    return ExitCode.failure;
  }
}

function usage(io: CliIo, message: string, help?: string, command?: string): number {
  io.err(`quantum-gates${command ? ` ${command}` : ''}: ${message}`);
  io.err(help ?? `Run "quantum-gates ${command ?? ''} --help" for usage.`.replace('  ', ' '));
  return ExitCode.usage;
}

/** "1.0.0 (commit 1a2b3c4d5e6f)" from a build, "1.0.0 (commit source)" from the sources: package.json's version. */
function version(): string {
  const { version, commit } = buildInfo();
  const release = releaseName();
  return `${version} (commit ${commit}${release === undefined ? '' : `, release ${release}`})`;
}
