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
