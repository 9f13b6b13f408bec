/**
 * pino's JSON line as a person reads it on a terminal: time, level word, the message, then the
 * other fields as key=value. Under systemd and in files the JSON stays (machines read those).
 */
const LEVELS: Record<number, { word: string; colour: string }> = {
  10: { word: 'TRACE', colour: '\x1b[90m' },
  20: { word: 'DEBUG', colour: '\x1b[90m' },
  30: { word: 'INFO ', colour: '\x1b[32m' },
  40: { word: 'WARN ', colour: '\x1b[33m' },
  50: { word: 'ERROR', colour: '\x1b[31m' },
  60: { word: 'FATAL', colour: '\x1b[41m' },
};
const RESET = '\x1b[0m';
/** Fields every line carries that a person at a terminal does not need to read each time. */
const OMITTED = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'name']);

export function prettyLine(json: string, colour: boolean): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const level = LEVELS[Number(record.level)] ?? { word: String(record.level), colour: '' };
  const time = typeof record.time === 'string' ? record.time.slice(11, 23) : '';
  const fields = Object.entries(record)
    .filter(([key]) => !OMITTED.has(key))
    .map(([key, value]) => `${key}=${typeof value === 'string' && !/\s/.test(value) ? value : JSON.stringify(value)}`)
    .join(' ');
  const word = colour ? `${level.colour}${level.word}${RESET}` : level.word;
  return `${time} ${word} ${String(record.msg ?? '')}${fields === '' ? '' : `  ${fields}`}\n`;
}
