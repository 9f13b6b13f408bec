/**
 * MessagePack values written one after another into one buffer, for the commit script's items
 * (RUN_BATCH unpacks them with cmsgpack). Only what the script reads: arrays (array 32) of UTF-8
 * strings (fixstr for short ASCII, str 32 for the rest), a string's bytes as ioredis would send
 * it (a lone surrogate becomes U+FFFD).
 *
 * The items travel in chunks, each a MessagePack array of whole items: a drained batch is one
 * argument that ioredis copies once, not a header and a copy an item. An item that would take a
 * chunk's items past `chunkBytes` starts the next, so no argument outgrows that bound or one item (Redis
 * takes 512 MB an argument).
 */
export class MessagePack {
  /** The last batch's size (at most 4 MiB): a drain's batches start there, not doubling up from 2 KB each. */
  private static sizeHint = 2048;
  private buffer = Buffer.allocUnsafe(MessagePack.sizeHint); // its first 5 bytes: the first chunk's header
  private length = 5;
  private readonly ends: number[] = [];

  constructor(private readonly chunkBytes = 16 * 2 ** 20) {}

  /** Starts an array of the `count` values written next. */
  array(count: number): void {
    const at = this.reserve(5);
    this.buffer[at] = 0xdd;
    this.buffer.writeUInt32BE(count, at + 1);
  }

  string(value: string): void {
    const n = value.length;
    // Short ASCII, nearly every argument: copied behind a one-byte header without a call out of JavaScript.
    if (n < 32) {
      const at = this.reserve(1 + n);
      const buffer = this.buffer;
      let i = 0;
      for (; i < n; i++) {
        const code = value.charCodeAt(i);
        if (code > 0x7f) break;
        buffer[at + 1 + i] = code;
      }
      if (i === n) {
        buffer[at] = 0xa0 | n;
        return;
      }
      this.length = at;
    }
    const bytes = Buffer.byteLength(value);
    const at = this.reserve(5 + bytes);
    this.buffer[at] = 0xdb;
    this.buffer.writeUInt32BE(bytes, at + 1);
    this.buffer.write(value, at + 5);
  }

  /** Ends an item: what was written since the last end. */
  end(): void {
    this.ends.push(this.length);
  }

  /** The items ended so far, in chunks: the first a view of the buffer, a later one (a batch past chunkBytes) a copy. */
  values(): Buffer[] {
    MessagePack.sizeHint = Math.min(Math.max(this.length, 2048), 4 * 2 ** 20);
    const chunks: Buffer[] = [];
    for (let first = 0, last = 1; first < this.ends.length; first = last++) {
      const start = this.ends[first - 1] ?? 5;
      while (last < this.ends.length && this.ends[last]! - start <= this.chunkBytes) last++;
      const end = this.ends[last - 1];
      const chunk = first === 0 ? this.buffer.subarray(0, end) : Buffer.concat([Buffer.alloc(5), this.buffer.subarray(start, end)]);
      chunk[0] = 0xdd;
      chunk.writeUInt32BE(last - first, 1);
      chunks.push(chunk);
    }
    return chunks;
  }

  /** Room for `bytes` more; answers where they start. */
  private reserve(bytes: number): number {
    const at = this.length;
    this.length += bytes;
    if (this.length > this.buffer.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length));
      this.buffer.copy(grown, 0, 0, at);
      this.buffer = grown;
    }
    return at;
  }
}
