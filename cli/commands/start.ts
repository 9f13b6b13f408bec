import { startGates } from '../../app/cli-door.js';
import { parseCommandArgs } from '../args.js';
import type { Command } from '../command.js';
import { ExitCode } from '../errors.js';

const help = [
  'Usage: quantum-gates start [--private-redis]',
  '',
  'Runs the gates in this process (what `npm start` runs): every handler, or those named in',
  'HANDLERS=heat-gate,governor,... Configuration comes from the environment (REDIS_URL, PORT,',
  'HOST, P26_MODE, P28_MODE, GOV_*, ... see deploy/env/). With no Redis configured it starts a',
  'private redis-server under .data/ (--private-redis or REDIS_PRIVATE=1 ask for it explicitly):',
  'on 127.0.0.1:6379 when nothing answers there, else on the port it had at its last start or a',
  'free one. A Redis answering on 6379 that no setting names is never written to.',
  '',
  'Stops on SIGTERM or SIGINT after committing the batches in hand. Exit 1 when the',
  'configuration is invalid or Redis cannot be started.',
].join('\n');

export const startCommand: Command = {
  name: 'start',
  summary: 'run the gates (what npm start runs)',
  help,
  async run(argv, io) {
    const args = parseCommandArgs('start', argv, { 'private-redis': { type: 'boolean' } });
    // --private, which the CLI takes for every command, asks the same of start.
    if (args.values['private-redis'] === true || io.privateRedis) process.env.REDIS_PRIVATE = '1';
    // app/main.ts reads process.env: hand it what --env-file (or a unit's file) added.
    if (io.envFile !== undefined) for (const [name, value] of Object.entries(io.env)) if (value !== undefined) process.env[name] ??= value;
    // app/main.ts starts on import and owns the process from here: its signal handlers
    // and process.exit calls decide how it ends.
    await startGates();
    return ExitCode.ok;
  },
};
