import fengari, { type LuaState } from 'fengari';
import { isRedisStateRefusal, type RedisReader } from '../../runtime/contract/index.js';
import { refusedKey } from './read-commands.js';

const { lua, lauxlib, lualib, to_luastring, to_jsstring } = fengari;

/**
 * A read-only script run where Redis cannot run it (Redis Cluster, whose keys sit in many slots;
 * Redis before 7; an ACL without EVAL_RO): the same Lua, in a Lua VM here, its `redis.pcall`s sent
 * as the client's own commands. So the book has one reading (read-book.lua), not a script and a
 * hand-kept copy of it in TypeScript.
 *
 * The script's commands depend on earlier replies, and a VM here cannot wait for Redis inside a
 * call, so it is run to the end repeatedly: each run answers every command from the replies fetched
 * so far, and a command not fetched yet with an error reply (`QG_NOT_READ`, which read-book.lua,
 * calling only `redis.pcall`, reads as a listing or key it could not read). The commands a run
 * asked for and did not have are then sent together, one round trip, and the script runs again,
 * until a run asks for nothing new: its reply is the answer. As many round trips as the script has
 * steps (read-book.lua: about five); not one moment, as plain reads never are.
 *
 * Redis's conversions, both ways (EVAL's documented rules): a reply's integer is a Lua number, a
 * nil bulk is false, an error is a table {err = message}; the script's reply back: a number is an
 * integer (truncated), false is nil, a table is an array up to its first nil, or an error where it
 * holds `err`. `unpack` is Lua 5.1's (Redis's), `cjson.decode` JSON's.
 */
export async function runScriptAsCommands(
  redis: RedisReader,
  script: string,
  keys: readonly string[],
  args: readonly (string | number)[],
): Promise<unknown> {
  const fetched = new Map<string, unknown>();
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const missing = new Map<string, readonly string[]>();
    const reply = runOnce(script, keys, args, (command) => {
      const id = JSON.stringify(command);
      if (fetched.has(id)) return fetched.get(id);
      missing.set(id, command);
      return NOT_READ;
    });
    if (missing.size === 0) return reply;
    const replies = await Promise.all([...missing.values()].map((command) => sendCommand(redis, command).catch(keyRefusal)));
    [...missing.keys()].forEach((id, i) => fetched.set(id, replies[i]));
  }
  throw new Error(`the script still asked for new reads after ${MAX_ROUNDS} rounds`);
}

/** read-book.lua takes about five; a script that keeps asking is a bug, not a slow Redis. */
const MAX_ROUNDS = 12;

const NOT_READ = new Error('QG_NOT_READ: not read yet');

/**
 * A key's refusal (another type) or a stream that does not exist is the command's answer, as in the
 * script (`{err = ...}`); any other failure (Redis's state, a lost connection) fails the read, so no
 * decision is made on it.
 */
function keyRefusal(error: unknown): Error {
  if (isRedisStateRefusal(error)) throw error;
  if (refusedKey(error) || (error instanceof Error && /no such key/i.test(error.message))) return error;
  throw error;
}

/** The commands read-book.lua sends, as the client's own (a fake reader implements the same). */
function sendCommand(redis: RedisReader, [command, key = '', ...rest]: readonly string[]): Promise<unknown> {
  switch (command?.toUpperCase()) {
    case 'GET':
      return redis.get(key);
    case 'HGET':
      return redis.hget(key, rest[0] ?? '');
    case 'HMGET':
      return redis.hmget(key, ...rest);
    case 'HGETALL':
      return redis.hgetall(key).then((hash) => Object.entries(hash).flat());
    case 'SMEMBERS':
      return redis.smembers(key);
    case 'SISMEMBER':
      return redis.sismember(key, rest[0] ?? '');
    case 'ZRANGE':
      // ZRANGE key 0 -1: every member by score, as ZRANGEBYSCORE -inf +inf.
      if (rest[0] !== '0' || rest[1] !== '-1') break;
      return redis.zrangebyscore(key, '-inf', '+inf');
    case 'XINFO':
      // XINFO GROUPS stream: the key is the second argument.
      if (key.toUpperCase() !== 'GROUPS') break;
      return redis.xinfo('GROUPS', rest[0] ?? '');
    case 'XPENDING':
      return redis.xpending(key, rest[0] ?? '');
    case 'XREVRANGE':
      if (rest[2]?.toUpperCase() !== 'COUNT') break;
      return redis.xrevrange(key, rest[0] ?? '+', rest[1] ?? '-', 'COUNT', Number(rest[3]));
  }
  return Promise.reject(new Error(`script-as-commands: ${command} ${key} is no read it sends`));
}

/** Per script, a Lua state holding it compiled (global SCRIPT): a run only sets its globals and calls it. */
const compiled = new Map<string, LuaState>();

function stateOf(script: string): LuaState {
  let L = compiled.get(script);
  if (L !== undefined) return L;
  L = lauxlib.luaL_newstate();
  lualib.luaL_openlibs(L);
  if (lauxlib.luaL_loadstring(L, to_luastring(script)) !== lua.LUA_OK)
    throw new Error(`script-as-commands: ${to_jsstring(lua.lua_tolstring(L, -1))}`);
  lua.lua_setglobal(L, to_luastring('SCRIPT'));
  // Redis's Lua is 5.1: its global unpack; cjson.decode is JSON's (set below).
  lua.lua_getglobal(L, to_luastring('table'));
  lua.lua_getfield(L, -1, to_luastring('unpack'));
  lua.lua_setglobal(L, to_luastring('unpack'));
  lua.lua_settop(L, 0);
  lua.lua_createtable(L, 0, 1);
  lua.lua_pushcfunction(L, (state) => {
    push(state, JSON.parse(to_jsstring(lua.lua_tolstring(state, 1))) as unknown, true);
    return 1;
  });
  lua.lua_setfield(L, -2, to_luastring('decode'));
  lua.lua_setglobal(L, to_luastring('cjson'));
  compiled.set(script, L);
  return L;
}

/**
 * One run of the script at the replies `answer` gives: its reply, converted as EVAL converts it.
 * Synchronous, so runs never interleave on a state; the script's top-level names are its locals.
 */
function runOnce(
  script: string,
  keys: readonly string[],
  args: readonly (string | number)[],
  answer: (command: readonly string[]) => unknown,
): unknown {
  const L = stateOf(script);
  lua.lua_settop(L, 0);
  setArray(L, 'KEYS', keys.map(String));
  setArray(L, 'ARGV', args.map(String));
  // redis.pcall (and call, which read-book.lua does not use) answered from `answer`.
  lua.lua_createtable(L, 0, 2);
  const pcall = (state: LuaState) => {
    const command: string[] = [];
    for (let i = 1; i <= lua.lua_gettop(state); i++) command.push(to_jsstring(lua.lua_tolstring(state, i)));
    push(state, answer(command));
    return 1;
  };
  lua.lua_pushcfunction(L, pcall);
  lua.lua_setfield(L, -2, to_luastring('pcall'));
  lua.lua_pushcfunction(L, pcall);
  lua.lua_setfield(L, -2, to_luastring('call'));
  lua.lua_setglobal(L, to_luastring('redis'));
  lua.lua_getglobal(L, to_luastring('SCRIPT'));
  if (lua.lua_pcall(L, 0, 1, 0) !== lua.LUA_OK) {
    const message = to_jsstring(lua.lua_tolstring(L, -1));
    lua.lua_settop(L, 0);
    throw new Error(`script-as-commands: ${message}`);
  }
  const reply = pull(L, -1);
  lua.lua_settop(L, 0);
  return reply;
}

function setArray(L: LuaState, name: string, values: readonly string[]): void {
  push(L, values);
  lua.lua_setglobal(L, to_luastring(name));
}

/** A reply into Lua (`json`: a decoded JSON value, whose objects are tables by key and null is nil). */
function push(L: LuaState, value: unknown, json = false): void {
  if (value === null || value === undefined) {
    if (json) lua.lua_createtable(L, 0, 0);
    else lua.lua_pushboolean(L, false);
  } else if (typeof value === 'string') lua.lua_pushstring(L, to_luastring(value));
  else if (typeof value === 'number') {
    if (Number.isInteger(value)) lua.lua_pushinteger(L, value);
    else lua.lua_pushnumber(L, value);
  } else if (typeof value === 'boolean') lua.lua_pushboolean(L, value);
  else if (value instanceof Error) {
    lua.lua_createtable(L, 0, 1);
    lua.lua_pushstring(L, to_luastring(value.message));
    lua.lua_setfield(L, -2, to_luastring('err'));
  } else if (Array.isArray(value)) {
    lua.lua_createtable(L, value.length, 0);
    value.forEach((item, i) => {
      push(L, item, json);
      lua.lua_rawseti(L, -2, i + 1);
    });
  } else if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>);
    lua.lua_createtable(L, 0, entries.length);
    for (const [k, v] of entries) {
      if (v === null) continue;
      push(L, v, json);
      lua.lua_setfield(L, -2, to_luastring(k));
    }
  } else throw new Error(`script-as-commands: no Lua value for ${typeof value}`);
}

/** The script's reply, as EVAL gives it. */
function pull(L: LuaState, index: number): unknown {
  const type = lua.lua_type(L, index);
  if (type === lua.LUA_TSTRING) return to_jsstring(lua.lua_tolstring(L, index));
  if (type === lua.LUA_TNUMBER) return Math.trunc(lua.lua_tonumber(L, index));
  if (type === lua.LUA_TBOOLEAN) return lua.lua_toboolean(L, index) ? 1 : null;
  if (type !== lua.LUA_TTABLE) return null;
  const at = lua.lua_absindex(L, index);
  if (lua.lua_getfield(L, at, to_luastring('err')) === lua.LUA_TSTRING) {
    const error = new Error(to_jsstring(lua.lua_tolstring(L, -1)));
    lua.lua_pop(L, 1);
    return error;
  }
  lua.lua_pop(L, 1);
  const out: unknown[] = [];
  for (let i = 1; lua.lua_rawgeti(L, at, i) !== lua.LUA_TNIL; i++) {
    out.push(pull(L, -1));
    lua.lua_pop(L, 1);
  }
  lua.lua_pop(L, 1);
  return out;
}
