// The server tools docs/operations.md §1's per-gate deployment uses (sudo, install, sudoedit,
// systemctl), standing in for them so the docs-run test runs that block as written on a machine
// without root or systemd. systemctl runs the
// shipped unit files themselves: the target's Wants=, each instance's Environment= and
// EnvironmentFile= lines (%i filled in, the files' settings winning as systemd's do),
// WorkingDirectory=, ExecStart= (node itself, detached, its pid kept; $VAR and ${VAR} expanded
// from that environment) and ExecStartPost= (waited for, as `systemctl start` waits). Paths are mapped to the test's directories:
//   /etc/quantum                 → $FAKE_SERVER_ETC   (the CLI finds it as $QG_ENV_DIR)
//   /etc/systemd/system          → the block's text is rewritten to $FAKE_SERVER_UNITS
//   /opt/quantum-gates/current/dist → $FAKE_SERVER_DIST (the compiled build)
//   /opt/quantum-gates/current   → $FAKE_SERVER_ROOT  (the checkout)
//   /usr/bin/node                → this node
// What an operator edits with sudoedit, the test gives in $FAKE_SERVER_EDITS ({file: {VAR: value}});
// when the env files are installed, the documented ports are moved to free ones
// ($FAKE_SERVER_PORTS, {old: new}), so two runs on one machine cannot collide, and the test's own
// settings beyond the documented ones ($FAKE_SERVER_SETTINGS, like the edits) are written in. What it cannot do: users, groups,
// file owners, the hardening, journald.
//
// The one-process unit (quantum-gates.service) runs the same way, through /opt/quantum-gates/current
// mapped to $FAKE_SERVER_OPT, so a restart after `release.sh switch` runs the release switched to;
// journalctl and systemd-sysusers are stood in for as no-ops.
//
// Usage: node fake-server.mjs sudo|install|sudoedit|systemctl|journalctl|systemd-sysusers ARGS...
import { spawn } from 'node:child_process';
import { appendFileSync, copyFileSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseEnv } from 'node:util';

const [tool, ...args] = process.argv.slice(2);
const need = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`fake-server: ${name} is not set`);
  return value;
};
const etc = need('FAKE_SERVER_ETC');
const units = need('FAKE_SERVER_UNITS');
const state = need('FAKE_SERVER_STATE');
const root = need('FAKE_SERVER_ROOT');
const dist = need('FAKE_SERVER_DIST');
const edits = JSON.parse(process.env.FAKE_SERVER_EDITS ?? '{}');
const settings = JSON.parse(process.env.FAKE_SERVER_SETTINGS ?? '{}');
const ports = JSON.parse(process.env.FAKE_SERVER_PORTS ?? '{}');

// With $FAKE_SERVER_OPT (the server install, upgrade and rollback), /opt/quantum-gates is that
// directory, releases and `current` link included, as scripts/release.sh's QG_BASE.
const opt = process.env.FAKE_SERVER_OPT;
// The one-process unit, quantum-gates.service, beside the per-gate instances.
const ONE_PROCESS = 'quantum-gates';

function mapPath(text) {
  const mapped = opt === undefined ? text : text.replaceAll('/opt/quantum-gates', opt);
  return mapped
    .replaceAll('/etc/quantum', etc)
    .replaceAll('/opt/quantum-gates/current/dist', dist)
    .replaceAll('/opt/quantum-gates/current', root)
    .replaceAll('/usr/bin/node', process.execPath);
}

/** Sets VAR=value lines in an env file, as an operator's editor would. */
function setVars(file, vars) {
  let text = readFileSync(file, 'utf8');
  for (const [name, value] of Object.entries(vars)) {
    const line = new RegExp(`^${name}=.*$`, 'm');
    text = line.test(text) ? text.replace(line, `${name}=${value}`) : `${text.replace(/\n?$/, '\n')}${name}=${value}\n`;
  }
  writeFileSync(file, text);
}

// install [-m MODE] [-o USER] [-g GROUP] [-d] SOURCE... DEST: owners need root, so they are left out.
function install(argv) {
  const kept = [];
  let directory = false;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '-o' || argv[i] === '-g' || argv[i] === '-m') i++;
    else if (argv[i] === '-d') directory = true;
    else kept.push(argv[i]);
  }
  if (directory) {
    for (const dir of kept) mkdirSync(dir, { recursive: true });
    return 0;
  }
  const dest = kept.pop();
  const intoDir = existsSync(dest) && statSync(dest).isDirectory();
  for (const source of kept) {
    const target = intoDir ? join(dest, basename(source)) : dest;
    copyFileSync(source, target);
    if (target.startsWith(`${etc}/`)) {
      let text = readFileSync(target, 'utf8');
      for (const [from, to] of Object.entries(ports)) text = text.replace(new RegExp(`(=|:)${from}\\b`, 'g'), `$1${to}`);
      writeFileSync(target, text);
      setVars(target, settings[basename(target)] ?? {});
    }
  }
  return 0;
}

function sudoedit(argv) {
  for (const file of argv) {
    if (!existsSync(file)) throw new Error(`sudoedit: ${file} does not exist`);
    setVars(file, edits[basename(file)] ?? {});
  }
  return 0;
}

/** The [Service] settings of a unit file, each key's values in order. */
function unitSettings(file) {
  const settings = new Map();
  for (const raw of readFileSync(file, 'utf8').split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith('[')) continue;
    const eq = line.indexOf('=');
    const key = line.slice(0, eq);
    settings.set(key, [...(settings.get(key) ?? []), line.slice(eq + 1)]);
  }
  return settings;
}

function instancesOf(unit) {
  if (unit.endsWith('.target')) {
    const wants = unitSettings(join(units, unit)).get('Wants') ?? [];
    return wants.flatMap((w) => w.split(/\s+/)).flatMap(instancesOf);
  }
  if (unit === ONE_PROCESS || unit === `${ONE_PROCESS}.service`) return [ONE_PROCESS];
  const match = /^quantum-gates@(.+?)(\.service)?$/.exec(unit);
  if (!match) throw new Error(`fake-server: systemctl knows only quantum-gates, quantum-gates@<gate> and targets (got ${unit})`);
  return [match[1]];
}

/** The unit's name: quantum-gates for the one process, quantum-gates@<gate> for an instance. */
const unitName = (instance) => (instance === ONE_PROCESS ? ONE_PROCESS : `quantum-gates@${instance}`);
const unitFile = (instance) => join(units, instance === ONE_PROCESS ? 'quantum-gates.service' : 'quantum-gates@.service');
const pidFile = (instance) => join(state, `${unitName(instance)}.pid`);
const logFile = (instance) => join(state, `${unitName(instance)}.log`);
/** Whether pid runs: a zombie (exited, not yet reaped by whoever adopted it) has stopped. */
const alive = (pid) => {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // /proc/<pid>/stat: "pid (comm) state ...", comm in parentheses and possibly holding spaces.
  const stat = existsSync(`/proc/${pid}/stat`) ? readFileSync(`/proc/${pid}/stat`, 'utf8') : '';
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
};
const runningPid = (instance) => {
  if (!existsSync(pidFile(instance))) return undefined;
  const pid = Number(readFileSync(pidFile(instance), 'utf8'));
  return alive(pid) ? pid : undefined;
};

/** A unit line's words as systemd splits them: at whitespace, a double-quoted word kept whole (quotes dropped). */
function words(line) {
  return [...line.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]);
}

/**
 * An Exec line's words with the environment's variables in: a word `$VAR` becomes the value's
 * words (none when empty), `${VAR}` the value as it is, as systemd expands them.
 */
function expand(line, env) {
  return words(line).flatMap((word) => {
    const whole = /^\$([A-Za-z_][A-Za-z0-9_]*)$/.exec(word);
    if (whole) return (env[whole[1]] ?? '').split(/\s+/).filter(Boolean);
    return [word.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name) => env[name] ?? '')];
  });
}

/** The environment systemd gives an instance: Environment= first, then each EnvironmentFile= over it. */
function instanceEnv(settings, instance) {
  const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' };
  for (const value of settings.get('Environment') ?? [])
    for (const pair of words(value.replaceAll('%i', instance))) {
      const eq = pair.indexOf('=');
      env[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
  for (const value of settings.get('EnvironmentFile') ?? []) {
    const optional = value.startsWith('-');
    const file = mapPath((optional ? value.slice(1) : value).replaceAll('%i', instance));
    if (!existsSync(file)) {
      if (optional) continue;
      throw new Error(`${unitName(instance)}.service: EnvironmentFile ${file} is missing`);
    }
    Object.assign(env, parseEnv(readFileSync(file, 'utf8')));
  }
  return env;
}

function run(commandLine, options) {
  const [command, ...argv] = expand(mapPath(commandLine), options.env);
  return spawn(command, argv, options);
}

async function start(instance) {
  if (runningPid(instance) !== undefined) return;
  // Read at each start, as systemd resolves WorkingDirectory and ExecStart's `current` link at each start.
  const settings = unitSettings(unitFile(instance));
  const env = instanceEnv(settings, instance);
  const cwd = mapPath(settings.get('WorkingDirectory')?.[0] ?? root);
  const log = openSync(logFile(instance), 'a');
  const child = run(settings.get('ExecStart')[0], { cwd, env, detached: true, stdio: ['ignore', log, log] });
  writeFileSync(pidFile(instance), String(child.pid));
  child.unref();
  for (const post of settings.get('ExecStartPost') ?? []) {
    const code = await new Promise((resolve) => run(post, { cwd, env, stdio: 'inherit' }).once('close', resolve));
    if (code !== 0) {
      const tail = readFileSync(logFile(instance), 'utf8').split('\n').slice(-20).join('\n');
      throw new Error(`Job for ${unitName(instance)}.service failed (ExecStartPost exited ${code}):\n${tail}`);
    }
  }
}

/** SIGTERM, and SIGKILL once the unit's TimeoutStopSec (systemd's default 90 s) has passed, as systemd stops a unit. */
async function stop(instance) {
  const pid = runningPid(instance);
  if (pid === undefined) return;
  const timeoutSec = Number.parseFloat(unitSettings(unitFile(instance)).get('TimeoutStopSec')?.[0] ?? '90');
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + timeoutSec * 1000;
  let killed = false;
  while (alive(pid)) {
    if (!killed && Date.now() > deadline) {
      killed = true;
      process.kill(pid, 'SIGKILL');
      console.error(`${unitName(instance)}.service: State 'stop-sigterm' timed out. Killing.`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function status(patterns) {
  const known = readdirSync(state)
    .filter((f) => f.endsWith('.pid'))
    .map((f) => f.slice(0, -'.pid'.length))
    .map((name) => (name === ONE_PROCESS ? ONE_PROCESS : name.slice('quantum-gates@'.length)));
  const globs = (patterns.length > 0 ? patterns : ['quantum-gates@*']).map(
    (p) =>
      new RegExp(
        `^${p
          .replace(/\.service$/, '')
          .replace(/[.+?^${}()|[\]\\]/g, '\\$&')
          .replaceAll('*', '.*')}$`,
      ),
  );
  const shown = known.filter((instance) => globs.some((g) => g.test(unitName(instance))));
  let allActive = shown.length > 0;
  for (const instance of shown) {
    const pid = runningPid(instance);
    allActive &&= pid !== undefined;
    console.log(`● ${unitName(instance)}.service - quantum-gates ${instance === ONE_PROCESS ? 'every gate' : `gate ${instance}`}`);
    console.log(`     Active: ${pid === undefined ? 'inactive (dead)' : `active (running)\n   Main PID: ${pid} (node)`}`);
  }
  // systemctl status exits 3 when a unit shown is not running.
  return allActive ? 0 : 3;
}

function sysusers() {
  const dir = process.env.FAKE_SERVER_SYSUSERS;
  if (dir === undefined || !existsSync(join(dir, 'quantum-gates.conf')))
    throw new Error('systemd-sysusers: no quantum-gates.conf installed');
  return 0;
}

async function systemctl(argv) {
  const [verb, ...rest] = argv;
  const unitsNamed = rest.filter((a) => !a.startsWith('-'));
  switch (verb) {
    case 'daemon-reload':
      return 0;
    case 'enable':
      if (!rest.includes('--now')) return 0;
    // falls through: enable --now starts them too
    case 'start':
      await Promise.all(unitsNamed.flatMap(instancesOf).map(start));
      return 0;
    case 'disable':
      if (!rest.includes('--now')) return 0;
    // falls through: disable --now stops them too
    case 'stop':
      await Promise.all(unitsNamed.flatMap(instancesOf).map(stop));
      return 0;
    case 'restart': {
      const instances = unitsNamed.flatMap(instancesOf);
      await Promise.all(instances.map(stop));
      await Promise.all(instances.map(start));
      return 0;
    }
    case 'status':
      return status(unitsNamed);
    default:
      throw new Error(`fake-server: systemctl ${verb} is not something the documented blocks run`);
  }
}

try {
  mkdirSync(state, { recursive: true });
  appendFileSync(join(state, 'commands.log'), `${tool} ${args.join(' ')}\n`);
  if (tool === 'sudo') {
    // sudo TOOL ARGS: the tool itself, through this same stand-in where it is one.
    const child = spawn(args[0], args.slice(1), { stdio: 'inherit' });
    process.exitCode = await new Promise((resolve) => child.once('close', (code) => resolve(code ?? 1)));
  } else if (tool === 'install') process.exitCode = install(args);
  else if (tool === 'sudoedit') process.exitCode = sudoedit(args);
  // journalctl -f follows the journal until interrupted; here there is no journal, and the block goes on.
  else if (tool === 'journalctl') process.exitCode = 0;
  // systemd-sysusers creates the user `qt`; users need root, so it only checks the file is in place.
  else if (tool === 'systemd-sysusers') process.exitCode = sysusers();
  else if (tool === 'systemctl') process.exitCode = await systemctl(args);
  else throw new Error(`fake-server: unknown tool ${tool}`);
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 1;
}
