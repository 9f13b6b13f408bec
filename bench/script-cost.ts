/**
 * redis-server's CPU per message of the commit script (runtime/lua/run-batch.lua), against the
 * same writes sent as plain commands, and its parts: what receiving a batch costs Redis (its
 * arguments made into Lua strings, as cmsgpack's unpacking of the script's MessagePack items, as
 * cjson's decoding of the JSON items it took before, or as flat ARGV), and a bare Lua loop that
 * only runs the commands. A batch of 500 messages shaped as the heat gate's (a 54-argument and a
 * 36-argument XADD each). Starts its own redis-server; CPU is redis-server's (INFO cpu), not wall.
 *
 *   npx tsx bench/script-cost.ts [rounds]
 */
import { readFileSync } from 'node:fs';
import { MessagePack } from '../runtime/engine/msgpack.js';
import { startTestRedis } from '../test/support/redis-server.js';

const lua = (name: string): string => readFileSync(new URL(`../runtime/lua/${name}.lua`, import.meta.url), 'utf8');
const RUN_BATCH = ['local check_only = false', lua('older-stream-id'), lua('dead-letter-append'), lua('run-batch')].join('\n');

function commandsOf(i: number): string[][] {
  const calibrated = ['XADD', 'out', 'MAXLEN', '~', '100000', '*'];
  for (let f = 0; f < 24; f++) calibrated.push(`field_${f}`, `value-${i}-${f}-abcdefgh`);
  const decision = ['XADD', 'dec', 'MAXLEN', '~', '100000', '*'];
  for (let f = 0; f < 15; f++)
    decision.push(`decision_${f}`, f === 12 ? `{"thresholds":{"warm":0.25,"hot":0.65},"trace_id":"t${i}","heat":0.1234}` : `v${i}`);
  return [calibrated, decision];
}
/** Writes arrays of strings as BatchScript packs its items. */
function pack(packed: MessagePack, value: string | readonly unknown[]): void {
  if (typeof value === 'string') return packed.string(value);
  packed.array(value.length);
  for (const v of value) pack(packed, v as string | readonly unknown[]);
}
const MESSAGES = 500;
const head = ['', '', '', '', '', ''];
const items = new MessagePack();
const json = [...head];
const flat = [...head];
for (let i = 0; i < MESSAGES; i++) {
  const commands = commandsOf(i);
  pack(items, ['', '', '', [], [], commands]);
  items.end();
  json.push(JSON.stringify(['', '', '', [], [], commands]));
  flat.push(String(commands.length));
  for (const c of commands) flat.push(String(c.length), ...c);
}
const packed = [...head, ...items.values()];
const BARE = `local a, argc = 7, #ARGV
while a <= argc do
  local n = tonumber(ARGV[a]); a = a + 1
  for c = 1, n do local len = tonumber(ARGV[a]); redis.pcall(unpack(ARGV, a + 1, a + len)); a = a + 1 + len end
end
return 0`;
const UNPACK = 'local t = {} for a = 7, #ARGV do t[#t + 1] = cmsgpack.unpack(ARGV[a]) end return 0';
const DECODE = 'local t = {} for a = 7, #ARGV do t[#t + 1] = cjson.decode(ARGV[a]) end return 0';

const server = await startTestRedis();
const redis = server.client;
const cpu = async (): Promise<number> => {
  const info = await redis.info('cpu');
  return Number(/used_cpu_user:([\d.]+)/.exec(info)![1]) + Number(/used_cpu_sys:([\d.]+)/.exec(info)![1]);
};
const rounds = Number(process.argv[2] ?? 30);
const contenders: [string, () => Promise<unknown>][] = [
  ['run-batch.lua, MessagePack items in one chunk', () => redis.eval(RUN_BATCH, 0, ...packed)],
  ['bare Lua loop running the commands (flat ARGV)', () => redis.eval(BARE, 0, flat)],
  ['receive only: MessagePack chunk, return 0', () => redis.eval('return 0', 0, ...packed)],
  ['receive + cmsgpack.unpack, return 0', () => redis.eval(UNPACK, 0, ...packed)],
  ['receive + cjson.decode of JSON items, return 0', () => redis.eval(DECODE, 0, json)],
  ['receive only: flat ARGV, return 0', () => redis.eval('return 0', 0, flat)],
  [
    'plain XADDs, pipelined (as the hand-written loop)',
    () => {
      const pipeline = redis.pipeline();
      for (let i = 0; i < MESSAGES; i++) for (const [name, ...args] of commandsOf(i)) pipeline.call(name!, ...args);
      return pipeline.exec();
    },
  ],
];
for (let turn = 0; turn < 3; turn++) {
  for (const [name, run] of contenders) {
    await redis.del('out', 'dec');
    const before = await cpu();
    for (let r = 0; r < rounds; r++) await run();
    console.log(`${name.padEnd(52)} ${((((await cpu()) - before) * 1e6) / (rounds * MESSAGES)).toFixed(1)} µs/message`);
  }
}
await server.stop();
