import { Command, type Redis } from 'ioredis';
import { isNoScript, scriptSha } from '../contract/script-by-hash.js';
import { encodeCommand, type EncodedArgs } from './resp.js';
import { RespArgs } from './resp-args.js';

const NO_BYTES = Buffer.alloc(0);

/**
 * A command built from arguments that are already one flat array of strings, and optionally more
 * already in the protocol's bytes (`tail`, sent after them). ioredis's own constructor copies its
 * arguments with Array.prototype.flat, which costs about 125 ns per argument: most of the
 * client's cost for a batch of outputs. The arguments are set after construction, so that copy
 * runs on an empty array. `replyEncoding` 'utf8' decodes replies as ioredis's own commands do;
 * without it they stay Buffers.
 */
export class FlatCommand extends Command {
  private readonly tail: EncodedArgs | undefined;

  constructor(name: string, args: string[], tail?: EncodedArgs, replyEncoding?: 'utf8') {
    super(name, [], replyEncoding === undefined ? {} : { replyEncoding });
    this.args = args;
    this.tail = tail;
  }

  /**
   * The command's bytes, written without ioredis's string building (resp.ts). A tail with room
   * before it takes the command's head there and goes out as it is, not copied after the head.
   */
  override toWritable(): Buffer {
    const tail = this.tail;
    if (tail instanceof RespArgs) {
      const sent = tail.withHead(encodeCommand(this.name, this.args as string[], { count: tail.count, bytes: NO_BYTES }));
      if (sent !== undefined) return sent;
    }
    return encodeCommand(this.name, this.args as string[], tail);
  }
}

/**
 * Runs `script` by its hash (EVALSHA: its body is then neither sent nor hashed by Redis on every
 * call), and with its body (EVAL) once Redis answers NOSCRIPT (a restart, SCRIPT FLUSH), which
 * caches it again. `command` builds the command with the script's hash or body in first place.
 */
export async function sendScript(
  client: Pick<Redis, 'sendCommand'>,
  script: string,
  command: (name: 'evalsha' | 'eval', first: string) => Command,
): Promise<unknown> {
  try {
    return await client.sendCommand(command('evalsha', scriptSha(script)));
  } catch (error) {
    if (!isNoScript(error)) throw error;
    return client.sendCommand(command('eval', script));
  }
}
