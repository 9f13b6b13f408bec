/**
 * MessagePack values written one after another into one buffer, for the commit script's items
 * (RUN_BATCH unpacks them with cmsgpack). Only what the script reads: arrays (array 32) of UTF-8
 * strings (fixstr for short ASCII, str 32 for the rest), a string's bytes as ioredis would send
 * it (a lone surrogate becomes U+FFFD).
 *
 * The buffer lies outside the JavaScript heap and the values go to ioredis as views of it, which
 * it copies once and never flattens: JSON text made each string twice more (the item's text, then
 * ioredis's copy of the command), escaped the JSON that fields carry, and held it all on the heap
 * until Redis answered, while the next batch was handled. Redis unpacks this faster too.
 */
export class MessagePack {
  // A message or two (a paced gate's batch) fit a slice of Node's buffer pool; a drained batch
  // doubles it a few times.
  private buffer = Buffer.allocUnsafe(2048);
  private length = 0;
  private readonly ends: number[] = [];

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

  /** Ends a value: what was written since the last end. */
  end(): void {
    this.ends.push(this.length);
  }

  /** The values ended so far, as views of the buffer. */
  values(): Buffer[] {
    return this.ends.map((end, i) => this.buffer.subarray(this.ends[i - 1] ?? 0, end));
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
