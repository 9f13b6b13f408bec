import { connect } from 'node:net';

/**
 * Every command Redis runs, as MONITOR prints it (one line each, arguments quoted with `"` escaped
 * as `\"`), read from a socket of its own: ioredis's monitor() drops a line of tens of KB that
 * arrives split across reads. Resolves once MONITOR has answered OK.
 */
export async function monitorLines(url: string, onLine: (line: string) => void): Promise<{ stop: () => void }> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  let pending = '';
  let answered: () => void = () => undefined;
  const ok = new Promise<void>((resolve) => (answered = resolve));
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    const lines = (pending + chunk).split('\r\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      if (line === '+OK') answered();
      else onLine(line);
    }
  });
  socket.write('MONITOR\r\n');
  await ok;
  return { stop: () => socket.destroy() };
}
