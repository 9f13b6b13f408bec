import type { CommandSink } from './effect-commands.js';
import { COPY_BY_HAND, type EncodedArgs, utf8Length, writeBulk, writeBulkBytes, writeShortAscii } from './resp.js';

/**
 * Width of an argument count written before it is known (a command's, a batch item's): zero-padded
 * decimal, which Lua's tonumber and JavaScript's Number read as the same number.
 */
const COUNT_DIGITS = 10;
const ZERO = 48;

/**
 * How large a writer's first buffer is: the size of the last batches its owner wrote (each
 * committer keeps its own, so a gate's small job commits do not shrink another's batches and make
 * them grow, and copy themselves, again). It follows a larger batch at once and a smaller one slowly.
 */
export class SizeHint {
  bytes = 16 * 1024;

  note(written: number): void {
    this.bytes = Math.max(1024, written, Math.floor(this.bytes * 0.75));
  }
}

const SHARED_HINT = new SizeHint();

/**
 * A command's arguments written as the protocol's bulk strings as they are added, into one growing
 * Buffer. A batch commit carries ~70 arguments a message; gathered first into an array of strings
 * and then encoded (resp.ts encodeCommand), the array alone cost about half of it (~4 of ~8 µs a
 * message, docs/performance.md, fourth session) and kept every argument's string alive, through
 * scavenges, until the commit went out. Arguments whose count is not known when they
 * start (a command's, a batch item's) take a count reserved at a fixed width and filled in later.
 *
 * As a CommandSink it also records each command it was given: where its arguments start and how
 * many there are (a batch too large for the script reads them back to send them as themselves).
 */
export class RespArgs implements CommandSink, EncodedArgs {
  private buffer: Buffer;
  private written: number;
  private args = 0;
  /** Byte offset of each ended command's first argument (after its count). */
  readonly commandStarts: number[] = [];
  /** Each ended command's argument count. */
  readonly commandSizes: number[] = [];
  private openCountAt = -1;
  private openFirstArg = 0;
  private openArgs = 0;

  /**
   * `headroom`: bytes kept free before the arguments, where a command's own head (its count, name
   * and first arguments) can be written once they are known (withHead), so that the command goes
   * to the socket as this one buffer rather than as a copy of it. A governor batch is ~1.5 MB,
   * and each copy of it a fresh allocation touched page by page (docs/performance.md).
   */
  constructor(
    private readonly hint: SizeHint = SHARED_HINT,
    private readonly headroom = 0,
  ) {
    // A quarter over the last batches: a batch a little larger than them would otherwise double
    // the buffer, and copy it, every time. Untouched pages cost no memory.
    this.buffer = Buffer.allocUnsafe(headroom + Math.ceil(hint.bytes * 1.25));
    this.written = headroom;
  }

  /** How many bulk strings have been written. */
  get count(): number {
    return this.args;
  }

  /** What has been written so far (a view, not a copy). */
  get bytes(): Buffer {
    return this.buffer.subarray(this.headroom, this.written);
  }

  /**
   * `head` (a command's bytes up to these arguments) and these arguments as one view, `head`
   * written into the headroom; undefined when it does not fit there (the caller copies).
   */
  withHead(head: Buffer): Buffer | undefined {
    if (head.length > this.headroom) return undefined;
    const start = this.headroom - head.length;
    head.copy(this.buffer, start);
    return this.buffer.subarray(start, this.written);
  }

  /** Called once the batch is complete: the owner's next batch starts with a buffer about this size. */
  settleSize(): void {
    this.hint.note(this.written - this.headroom);
  }

  add(text: string): void {
    if (text.length <= COPY_BY_HAND) {
      // $ + up to four digits + CRLF + the text + CRLF, on the bet that it is ASCII.
      this.reserve(text.length + 9);
      const end = writeShortAscii(this.buffer, this.written, text);
      if (end >= 0) {
        this.written = end;
        this.args++;
        return;
      }
    }
    const length = utf8Length(text);
    this.reserve(length + 16);
    this.written = writeBulk(this.buffer, this.written, text, length);
    this.args++;
  }

  /** Writes binary bytes as one argument (BullMQ's msgpack-packed job arguments). */
  addBytes(bytes: Uint8Array): void {
    this.reserve(bytes.length + 16);
    this.written = writeBulkBytes(this.buffer, this.written, bytes);
    this.args++;
  }

  /** Writes a count to be filled in later; returns where (for fillCount). */
  reserveCount(): number {
    this.reserve(COUNT_DIGITS + 7);
    const buffer = this.buffer;
    let at = this.written;
    buffer[at++] = 36; // $
    buffer[at++] = ZERO + Math.floor(COUNT_DIGITS / 10);
    buffer[at++] = ZERO + (COUNT_DIGITS % 10);
    buffer[at++] = 13;
    buffer[at++] = 10;
    const digitsAt = at;
    buffer.fill(ZERO, at, at + COUNT_DIGITS);
    at += COUNT_DIGITS;
    buffer[at++] = 13;
    buffer[at++] = 10;
    this.written = at;
    this.args++;
    return digitsAt;
  }

  /** Fills in a count reserved at `digitsAt`. */
  fillCount(digitsAt: number, n: number): void {
    if (!Number.isSafeInteger(n) || n < 0 || n >= 10 ** COUNT_DIGITS) throw new RangeError(`count out of range: ${n}`);
    for (let i = digitsAt + COUNT_DIGITS - 1; i >= digitsAt; i--) {
      this.buffer[i] = ZERO + (n % 10);
      n = Math.floor(n / 10);
    }
  }

  begin(): void {
    this.openCountAt = this.reserveCount();
    this.openFirstArg = this.written;
    this.openArgs = this.args;
  }

  end(keep = true): void {
    if (this.openCountAt < 0) throw new Error('end() without begin()');
    const size = this.args - this.openArgs;
    if (keep) {
      this.fillCount(this.openCountAt, size);
      this.commandStarts.push(this.openFirstArg);
      this.commandSizes.push(size);
    } else {
      // The command and its count are taken back.
      this.written = this.openCountAt - 5;
      this.args = this.openArgs - 1;
    }
    this.openCountAt = -1;
  }

  /** The `count` arguments written from byte `from` on, as text (what a batch too large for the script sends). */
  read(from: number, count: number): string[] {
    const buffer = this.buffer;
    const out: string[] = [];
    let at = from;
    for (let i = 0; i < count; i++) {
      if (buffer[at] !== 36) throw new Error(`no bulk string at byte ${at}`);
      let length = 0;
      at++;
      while (buffer[at] !== 13) length = length * 10 + (buffer[at++]! - ZERO);
      at += 2;
      out.push(buffer.toString('utf8', at, at + length));
      at += length + 2;
    }
    return out;
  }

  private reserve(bytes: number): void {
    if (this.written + bytes <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(2 * this.buffer.length, this.written + bytes));
    this.buffer.copy(grown, 0, 0, this.written);
    this.buffer = grown;
  }
}
