/**
 * MessagePack values written one after another into one buffer, for the commit script's items
 * (RUN_BATCH unpacks them with cmsgpack). Only what the script reads: arrays (array 32) of UTF-8
 * strings (fixstr for short ASCII, str 32 for the rest), a string's bytes as ioredis would send
 * it (a lone surrogate becomes U+FFFD).
 *
 * The items travel as chunks, each one MessagePack array of whole items: a drained batch is one
 * argument that ioredis copies once, not one header and copy per item. A chunk closes once it
 * passes `chunkBytes`, and an item that takes it past that bound starts the next chunk, so no
 * argument is larger than that bound or one item (Redis takes 512 MB an argument).
 */
export class MessagePack {
  // A message or two (a paced gate's batch) fit a slice of Node's buffer pool; a drained batch
  // doubles it a few times.
  private buffer = Buffer.allocUnsafe(2048);
  private length = 5;
  /** Each chunk's [start, end), the open one's end not yet known. */
  private readonly chunks: number[] = [0];
  private chunkItems = 0;
  private itemStart = 5;

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
    const chunkStart = this.chunks[this.chunks.length - 1]!;
    if (this.chunkItems > 0 && this.length - chunkStart > this.chunkBytes) {
      // The item moves 5 bytes on, behind the next chunk's header.
      const itemBytes = this.length - this.itemStart;
      this.reserve(5);
      this.buffer.copyWithin(this.itemStart + 5, this.itemStart, this.itemStart + itemBytes);
      this.closeChunk(this.itemStart);
      this.chunks.push(this.itemStart);
    }
    this.chunkItems += 1;
    this.itemStart = this.length;
  }

  /** The items ended so far, as chunks: views of the buffer. */
  values(): Buffer[] {
    if (this.chunkItems > 0) this.closeChunk(this.length);
    const views: Buffer[] = [];
    for (let i = 0; i + 1 < this.chunks.length; i += 2) views.push(this.buffer.subarray(this.chunks[i], this.chunks[i + 1]));
    return views;
  }

  /** Writes the open chunk's header, its items' count, and ends it at `end`. */
  private closeChunk(end: number): void {
    const start = this.chunks[this.chunks.length - 1]!;
    this.buffer[start] = 0xdd;
    this.buffer.writeUInt32BE(this.chunkItems, start + 1);
    this.chunks.push(end);
    this.chunkItems = 0;
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
