import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './errors.js';

type Options = NonNullable<ParseArgsConfig['options']>;

export interface Parsed<O extends Options> {
  readonly values: { [K in keyof O]?: O[K]['type'] extends 'boolean' ? boolean : O[K]['multiple'] extends true ? string[] : string };
  readonly positionals: string[];
}

/**
 * node:util parseArgs in strict mode, its errors turned into UsageError (exit 2) naming the
 * command. (`--help` never reaches here: runCli answers it for every command.) parseArgs marks its errors with a code,
 * which is what we classify by.
 */
export function parseCommandArgs<O extends Options>(
  command: string,
  argv: readonly string[],
  options: O,
  { positionals = false }: { positionals?: boolean } = {},
): Parsed<O> {
  try {
    const { values, positionals: rest } = parseArgs({
      args: joinNegativeNumbers(argv, options),
      options,
      strict: true,
      allowPositionals: positionals,
    });
    return { values: values as Parsed<O>['values'], positionals: rest };
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) throw new UsageError((error as Error).message, command);
    throw error;
  }
}

/** `--flag` must be given: a missing required argument is a usage error. */
export function required(command: string, value: string | undefined, flag: string): string {
  if (value === undefined || value.trim() === '') throw new UsageError(`missing required option ${flag}`, command);
  return value;
}

export function positiveInt(command: string, value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} must be a whole number of at least 1 (got "${value}")`, command);
  return n;
}

/**
 * parseArgs reads `--position-notional-usd -500` as a missing value followed by an option.
 * Negative numbers are ordinary here (short positions), so a string option followed by one is
 * rewritten to the unambiguous `--name=-500`.
 */
function joinNegativeNumbers(argv: readonly string[], options: Options): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    const next = argv[i + 1];
    const name = token.startsWith('--') && !token.includes('=') ? token.slice(2) : undefined;
    if (name !== undefined && options[name]?.type === 'string' && next !== undefined && /^-(\d|\.\d)/.test(next)) {
      out.push(`${token}=${next}`);
      i += 1;
    } else {
      out.push(token);
    }
  }
  return out;
}
