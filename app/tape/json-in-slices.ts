/**
 * JSON.stringify's text of a value, built a slice at a time with `between()` awaited after every
 * `every` elements or fields serialised. A tick's tape record holds thousands of reads (the
 * position index's refresh over a universe of 2,000 symbols: 865 KB of JSON); stringified at once
 * it held the thread 5-18 ms every 5 s, and decisions waited behind it.
 *
 * The text is JSON.stringify's exactly: arrays and plain objects down to `depth` levels are
 * written part by part, by JSON.stringify's rules (a field whose value JSON leaves out is left
 * out, an element it leaves out is `null`); anything deeper, and anything with a `toJSON`, by
 * JSON.stringify itself.
 */
export async function jsonInSlices(value: object, between: () => Promise<void>, every: number, depth: number): Promise<string> {
  let sinceYield = 0;
  const whole = (item: unknown, levels: number): boolean =>
    levels <= 0 || typeof item !== 'object' || item === null || typeof (item as { toJSON?: unknown }).toJSON === 'function';
  const write = async (item: object, levels: number): Promise<string> => {
    const parts: string[] = [];
    const entries: [string | undefined, unknown][] = Array.isArray(item)
      ? item.map((element): [undefined, unknown] => [undefined, element])
      : Object.entries(item);
    for (const [name, field] of entries) {
      const json = whole(field, levels - 1) ? JSON.stringify(field) : await write(field as object, levels - 1);
      if (name === undefined) parts.push(json ?? 'null');
      else if (json !== undefined) parts.push(`${JSON.stringify(name)}:${json}`);
      // Not a promise a part: a tick's record has thousands.
      if (++sinceYield >= every) {
        sinceYield = 0;
        await between();
      }
    }
    return Array.isArray(item) ? `[${parts.join(',')}]` : `{${parts.join(',')}}`;
  };
  return whole(value, depth) ? (JSON.stringify(value) ?? 'null') : write(value, depth);
}
