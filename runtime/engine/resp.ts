/**
 * A Redis command in the protocol's own bytes (RESP: `*<n>\r\n` then `$<bytes>\r\n<arg>\r\n` per
 * argument), written straight into one Buffer. ioredis builds the same text as a JavaScript
 * string, four concatenations and a number's text per argument, which Node then flattens and
 * encodes into the socket: for a batch commit of ~70 arguments a message that was ~9 KB of
 * garbage per message (a third of all the heat gate allocated) and ~6 µs of CPU. This writes the
 * identical bytes with no garbage (test/unit/resp.test.ts checks them against ioredis's on
 * arbitrary arguments, non-ASCII and lone surrogates included). Short arguments are read once:
 * sized and copied in one pass, on the bet that they are ASCII (~25 % less CPU than sizing them
 * first, bench/scratch/encode-cost.ts).
 */

/** Byte lengths of the arguments of the command being encoded, kept between calls (one thread). */
let lengths = new Int32Array(1024);

/** UTF-8 length: counted in JavaScript for ASCII text (nearly every argument), else by Buffer. */
export function utf8Length(text: string): number {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) >= 0x80) return Buffer.byteLength(text, 'utf8');
  return text.length;
}

function digitCount(n: number): number {
  let count = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    count++;
  }
  return count;
}

/** Writes n's decimal digits at `at`; returns the offset after them. */
function writeDigits(buffer: Buffer, at: number, n: number): number {
  const end = at + digitCount(n);
  for (let i = end - 1; i >= at; i--) {
    buffer[i] = 48 + (n % 10);
    n = Math.floor(n / 10);
  }
  return end;
}

/**
 * Copies at most this many ASCII characters one by one, checking each as it goes; longer text is
 * sized first and takes one native write. A native write costs more than a copy by hand of every
 * length an argument has here (keys of 40-70 characters, events of a few hundred): 33 characters
 * 74 against 134 ns, 128 231 against 302, 400 696 against 769 (sizing included; seventh session).
 */
export const COPY_BY_HAND = 1024;

/** Arguments already in the protocol's bytes (resp-args.ts), sent after a command's others. */
export interface EncodedArgs {
  readonly count: number;
  readonly bytes: Buffer;
}

/** The command `name` with `args`, then `tail`'s arguments when given, as the protocol's bytes. */
export function encodeCommand(name: string, args: readonly string[], tail?: EncodedArgs): Buffer {
  const count = args.length;
  if (lengths.length < count) lengths = new Int32Array(Math.max(count, 2 * lengths.length));
  const nameLength = utf8Length(name);
  const tailCount = tail === undefined ? 0 : tail.count;
  const tailBytes = tail === undefined ? 0 : tail.bytes.length;
  // *<count+1>\r\n $<name bytes>\r\n <name>\r\n
  let total = 1 + digitCount(count + tailCount + 1) + 2 + 1 + digitCount(nameLength) + 2 + nameLength + 2 + tailBytes;
  // Short arguments (nearly all) are sized only when copied: ASCII, the text's length is its byte
  // length, and the copy checks each character as it goes. The rest are sized here.
  let unsized = false;
  for (let i = 0; i < count; i++) {
    const text = args[i]!;
    const length = text.length <= COPY_BY_HAND ? -1 : utf8Length(text);
    lengths[i] = length;
    if (length < 0) unsized = true;
    else total += 1 + digitCount(length) + 2 + length + 2;
  }
  if (unsized) {
    // Room for the short ones as if every one were ASCII; one that is not is sized then, and the
    // buffer grows if it must (rare: non-ASCII keys and values).
    for (let i = 0; i < count; i++) if (lengths[i]! < 0) total += 1 + digitCount(args[i]!.length) + 2 + args[i]!.length + 2;
  }
  let buffer = Buffer.allocUnsafe(total);
  let at = 0;
  buffer[at++] = 42; // *
  at = writeDigits(buffer, at, count + tailCount + 1);
  at = crlf(buffer, at);
  at = writeBulk(buffer, at, name, nameLength);
  for (let i = 0; i < count; i++) {
    const text = args[i]!;
    const length = lengths[i]!;
    if (length >= 0) {
      at = writeBulk(buffer, at, text, length);
      continue;
    }
    const end = writeShortAscii(buffer, at, text);
    if (end >= 0) {
      at = end;
      continue;
    }
    // Not ASCII: sized now; what is left is re-counted exactly and the buffer grown to it.
    const bytes = Buffer.byteLength(text, 'utf8');
    let rest = 1 + digitCount(bytes) + 2 + bytes + 2;
    for (let j = i + 1; j < count; j++) {
      const next = lengths[j]! >= 0 ? lengths[j]! : utf8Length(args[j]!);
      rest += 1 + digitCount(next) + 2 + next + 2;
    }
    if (at + rest + tailBytes > buffer.length) {
      const grown = Buffer.allocUnsafe(at + rest + tailBytes);
      buffer.copy(grown, 0, 0, at);
      buffer = grown;
    }
    at = writeBulk(buffer, at, text, bytes);
  }
  if (tail !== undefined) at += tail.bytes.copy(buffer, at);
  return at === buffer.length ? buffer : buffer.subarray(0, at);
}

/** `$<length>\r\n<text>\r\n` for short ASCII text; -1 (nothing usable written) at its first non-ASCII character. */
export function writeShortAscii(buffer: Buffer, at: number, text: string): number {
  const length = text.length;
  buffer[at] = 36; // $
  const start = crlf(buffer, writeDigits(buffer, at + 1, length));
  for (let c = 0; c < length; c++) {
    const code = text.charCodeAt(c);
    if (code >= 0x80) return -1;
    buffer[start + c] = code;
  }
  return crlf(buffer, start + length);
}

function crlf(buffer: Buffer, at: number): number {
  buffer[at] = 13;
  buffer[at + 1] = 10;
  return at + 2;
}

/** `$<length>\r\n<bytes>\r\n` */
export function writeBulkBytes(buffer: Buffer, at: number, bytes: Uint8Array): number {
  buffer[at++] = 36; // $
  at = writeDigits(buffer, at, bytes.length);
  at = crlf(buffer, at);
  buffer.set(bytes, at);
  return crlf(buffer, at + bytes.length);
}

/** `$<length>\r\n<text>\r\n` */
export function writeBulk(buffer: Buffer, at: number, text: string, length: number): number {
  buffer[at++] = 36; // $
  at = writeDigits(buffer, at, length);
  at = crlf(buffer, at);
  if (length !== text.length) buffer.write(text, at, length, 'utf8');
  else if (length <= COPY_BY_HAND) for (let c = 0; c < length; c++) buffer[at + c] = text.charCodeAt(c);
  else buffer.write(text, at, length, 'latin1');
  return crlf(buffer, at + length);
}
