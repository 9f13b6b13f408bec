// The systemd units' ExecStartPost: returns once the gates answer /ready with 200, so systemd
// marks the unit started only when it is (`systemctl start` waits; units ordered after it
// start after). Node has no sd_notify, and `systemd-notify --ready` from a child can be
// attributed to no unit when it exits first; polling the readiness endpoint has neither problem.
// Reads HOST and PORT like the runtime (a wildcard HOST is asked on loopback); gives up with
// exit 1 after WAIT_READY_TIMEOUT_SEC (default 60), and systemd's TimeoutStartSec bounds it too.
import { request } from 'node:http';

const wildcard = new Set(['0.0.0.0', '::', '']);
const host = wildcard.has(process.env.HOST ?? '') ? '127.0.0.1' : (process.env.HOST ?? '127.0.0.1');
const port = Number(process.env.PORT ?? 8080);
const deadline = Date.now() + Number(process.env.WAIT_READY_TIMEOUT_SEC ?? 60) * 1000;

function readyStatus() {
  return new Promise((resolve) => {
    const req = request({ host, port, path: '/ready', timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
    req.end();
  });
}

let last = 0;
while (Date.now() < deadline) {
  last = await readyStatus();
  if (last === 200) process.exit(0);
  await new Promise((r) => setTimeout(r, 100));
}
console.error(`quantum-gates: not ready at http://${host}:${port}/ready (last answer ${last || 'none'})`);
process.exit(1);
