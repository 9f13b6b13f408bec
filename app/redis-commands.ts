import { Cluster } from 'ioredis';
import type { RedisClient } from '../runtime/host/index.js';

/**
 * Every Redis command the gates' account needs, in one place: the start-up check (app/redis-preflight.ts),
 * `quantum-gates doctor` and docs/operations.md ("What the gates' account needs", which
 * test/unit/redis-commands-doc.test.ts holds to this list) all read it. A command runs either as
 * the client's or inside a script (the commit script, the book's read, BullMQ's): Redis checks the
 * ACL for both, so both are here. Found by MONITOR over every gate deciding (test/integration/
 * redis-account.test.ts runs the gates on an account allowed these and nothing else).
 */
export interface RedisCommandNeed {
  /** As the ACL names it: `xadd`, or a container's subcommand, `xinfo|groups`. */
  readonly command: string;
  /** Who needs it: every process (the runtime: streams, commits, jobs, health), or the gates named (HANDLERS). */
  readonly by: 'runtime' | readonly string[];
  readonly why: string;
}

const runtime = (command: string, why: string): RedisCommandNeed => ({ command, by: 'runtime', why });

export const REDIS_COMMANDS: readonly RedisCommandNeed[] = [
  runtime('ping', "the gates' health probe (/ready) and BullMQ"),
  runtime(
    'psubscribe',
    "the position book's key watch: keyspace events of P3.3's hashes (runtime/host/key-watch.ts); its CONFIG GET of notify-keyspace-events, and SCAN, are needed for it to be live",
  ),
  runtime('time', "Redis's clock, which every decision reads (runtime/engine/redis-clock.ts): each batch and the health probe"),
  runtime('info', "the health probe and the governor's eviction check (maxmemory_policy)"),
  runtime('client|setname', 'names each connection'),
  runtime('client|id', "BullMQ's blocking worker"),
  runtime('eval', 'the commit script, dead letters, leases, the book read'),
  runtime('evalsha', 'the same scripts by hash, and BullMQ'),
  runtime('xreadgroup', 'reading each gate’s input stream'),
  runtime('xautoclaim', 'taking over entries a dead consumer held'),
  runtime('xgroup|create', 'creating a consumer group'),
  runtime('xinfo|groups', 'a group’s cursor and lag'),
  runtime('xinfo|consumers', 'consumers that departed'),
  runtime('xpending', 'what a consumer holds'),
  runtime('xack', 'acknowledging a committed entry'),
  runtime('xadd', 'decisions, events, dead letters'),
  runtime('xrange', 'entries pending before a batch (stream order)'),
  runtime('xrevrange', 'the latest entries of a stream'),
  runtime('xread', 'the tape and BullMQ’s events'),
  runtime('xtrim', 'BullMQ’s event stream'),
  runtime('type', 'the commit script’s type check'),
  runtime('exists', 'guards and idempotency'),
  runtime('get', 'guards, switches, versions'),
  runtime('set', 'newest-wins ids, versions, the health key'),
  runtime('del', 'replacing hashes, releasing leases'),
  runtime('expire', 'expiring what a gate writes'),
  runtime('incr', 'BullMQ job ids'),
  runtime('hset', 'hashes a gate writes'),
  runtime('hmset', 'BullMQ jobs'),
  runtime('hget', 'reads'),
  runtime('hgetall', 'reads'),
  runtime('hmget', 'reads'),
  runtime('hincrby', 'BullMQ job attempts'),
  runtime('sadd', 'sets a gate writes'),
  runtime('srem', 'sets a gate writes'),
  runtime('smembers', 'reads'),
  runtime('sismember', 'reads'),
  runtime('scard', 'BullMQ'),
  runtime('zadd', 'sorted sets a gate writes, the dead-letter index, BullMQ schedules'),
  runtime('zrem', 'BullMQ'),
  runtime('zremrangebyscore', 'trimming sorted sets'),
  runtime('zremrangebyrank', 'BullMQ'),
  runtime('zrange', 'reads, BullMQ'),
  runtime('zrangebyscore', 'reads, BullMQ'),
  runtime('zrevrange', 'BullMQ'),
  runtime('zrevrangebyscore', 'BullMQ'),
  runtime('zscore', 'BullMQ'),
  runtime('zcard', 'BullMQ'),
  runtime('zpopmin', 'BullMQ'),
  runtime('bzpopmin', 'BullMQ’s delayed-job wait'),
  runtime('lpush', 'lists a gate writes'),
  runtime('ltrim', 'lists a gate writes'),
  runtime('lrange', 'reads, BullMQ'),
  runtime('lindex', 'BullMQ'),
  runtime('llen', 'BullMQ'),
  runtime('lrem', 'BullMQ'),
  runtime('rpoplpush', 'BullMQ'),
  {
    command: 'scan',
    by: ['position-index'],
    why: "the position index's sweep of P3.3's hashes (elsewhere, the key watch's rebuild: without it the book reads every listed hash)",
  },
  { command: 'zcount', by: ['governor', 'outcome-governor', 'outcome-heat', 'outcome-sample'], why: 'auto-disarm errors, outcome windows' },
];

/** The commands a process hosting `gates` needs: the runtime's and theirs. */
export function commandsFor(gates: readonly string[]): RedisCommandNeed[] {
  return REDIS_COMMANDS.filter((need) => need.by === 'runtime' || need.by.some((gate) => gates.includes(gate)));
}

/** A command the account cannot run, and why: Redis does not know it (renamed away), or the ACL refuses it. */
export interface MissingCommand {
  readonly need: RedisCommandNeed;
  readonly problem: 'unknown' | 'refused';
  /** The node (host:port) of a cluster it was found on; undefined on one Redis. */
  readonly node?: string;
}

/** What the check found: the commands missing, and what it could not check (a Redis before 7 has no ACL check in scripts). */
export interface CommandCheck {
  readonly missing: readonly MissingCommand[];
  readonly unchecked?: string;
}

/**
 * For each command, whether Redis knows it (a `rename-command` makes it unknown) and the ACL lets
 * this account run it, asked of the ACL itself (redis.acl_check_cmd: nothing runs, nothing is
 * written). Answers per command: 1 allowed, 0 refused, -1 unknown; or nothing before Redis 7.
 */
const CHECK_SCRIPT = `if not redis.acl_check_cmd then return false end
local answers = {}
for i = 1, #ARGV do
  local name, sub = string.match(ARGV[i], '^([^|]+)|?(.*)$')
  local ok, allowed
  if sub ~= '' then ok, allowed = pcall(redis.acl_check_cmd, name, sub) else ok, allowed = pcall(redis.acl_check_cmd, name) end
  if not ok then answers[i] = -1 elseif allowed then answers[i] = 1 else answers[i] = 0 end
end
return answers`;

/** Checks `needs` on every node the client writes to (every master of a cluster). */
export async function checkCommands(client: RedisClient, needs: readonly RedisCommandNeed[]): Promise<CommandCheck> {
  const nodes = client instanceof Cluster ? client.nodes('master') : [client];
  const missing: MissingCommand[] = [];
  let unchecked: string | undefined;
  for (const node of nodes) {
    const where = client instanceof Cluster ? `${node.options.host}:${node.options.port}` : undefined;
    const found = await checkNode(node, needs);
    for (const m of found.missing) missing.push(where === undefined ? m : { ...m, node: where });
    unchecked ??= found.unchecked;
  }
  return unchecked === undefined ? { missing } : { missing, unchecked };
}

async function checkNode(node: RedisClient, needs: readonly RedisCommandNeed[]): Promise<CommandCheck> {
  const evalNeed = needs.find((need) => need.command === 'eval');
  let answers: unknown;
  try {
    answers = await node.eval(CHECK_SCRIPT, 0, ...needs.map((need) => need.command));
  } catch (error) {
    // EVAL itself refused (an ACL) or renamed away: that is the first command missing.
    const text = error instanceof Error ? error.message : String(error);
    const problem = /unknown command/i.test(text) ? 'unknown' : 'refused';
    return evalNeed ? { missing: [{ need: evalNeed, problem }] } : { missing: [], unchecked: text };
  }
  if (!Array.isArray(answers))
    return { missing: await unknownOf(node, needs), unchecked: 'Redis before 7 cannot ask its ACL from a script' };
  const missing: MissingCommand[] = [];
  needs.forEach((need, i) => {
    if (answers[i] === 0) missing.push({ need, problem: 'refused' });
    else if (answers[i] === -1) missing.push({ need, problem: 'unknown' });
  });
  return { missing };
}

/** Redis before 7: COMMAND INFO says which commands it does not know (renamed away); the ACL is not asked. */
async function unknownOf(node: RedisClient, needs: readonly RedisCommandNeed[]): Promise<MissingCommand[]> {
  const names = needs.map((need) => need.command.split('|')[0]!);
  const infos = (await node.call('COMMAND', 'INFO', ...names)) as unknown[];
  return needs.filter((_, i) => infos[i] === null).map((need) => ({ need, problem: 'unknown' as const }));
}

/** One line naming what is missing and the ACL rule to add (or the rename to undo). */
export function describeMissing(where: string, missing: MissingCommand): string {
  const { need, problem, node } = missing;
  const at = node === undefined ? where : `${where} (node ${node})`;
  const name = need.command.toUpperCase().replace('|', ' ');
  if (problem === 'unknown')
    return `Redis at ${at} does not know ${name} (renamed away by rename-command?): the gates need it (${need.why}); remove the rename-command for it (docs/operations.md, "What the gates' account needs")`;
  return `Redis at ${at}: the gates' account may not run ${name} (${need.why}): add +${need.command} to its ACL user (docs/operations.md, "What the gates' account needs")`;
}
