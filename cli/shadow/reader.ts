/** The reads a report makes (ioredis satisfies it). */
export interface ShadowReader {
  hgetall(key: string): Promise<Record<string, string>>;
  xrange(key: string, start: string, end: string, count: 'COUNT', n: number): Promise<[string, string[]][]>;
  xrangeBuffer(key: string, start: string, end: string, count: 'COUNT', n: number): Promise<[Buffer, Buffer[]][]>;
  xinfo(subcommand: 'GROUPS', key: string): Promise<unknown>;
}

/** The reads the Python readers make (ioredis satisfies it). */
export interface PythonReader extends ShadowReader {
  get(key: string): Promise<string | null>;
  scan(cursor: string, match: 'MATCH', pattern: string, count: 'COUNT', n: number): Promise<[string, string[]]>;
}

/** What the live pairing writes: the summary and the last unexplained pairs, in one transaction per gate. */
export interface PairingWriter extends ShadowReader {
  multi(): {
    hincrby(key: string, field: string, by: number): unknown;
    hset(key: string, ...fieldsAndValues: (string | number)[]): unknown;
    xadd(key: string, ...args: (string | number)[]): unknown;
    exec(): Promise<unknown>;
  };
}
