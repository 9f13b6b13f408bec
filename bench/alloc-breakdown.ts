/**
 * Sums an allocation profile (bench/alloc-prof.mjs) per function: bytes allocated per message,
 * by the function itself (self) and under it (total).
 *   npx tsx bench/alloc-breakdown.ts <file.heapprofile> [messages]
 */
import { readFileSync } from 'node:fs';
interface Node {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: Node[];
}
const profile = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as { head: Node };
const messages = Number(process.argv[3] ?? 100000);
const self = new Map<string, number>();
const total = new Map<string, number>();
let all = 0;
function walk(n: Node, stack: string[]) {
  const name = `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.replace(/^.*\/(node_modules\/[^/]+|dist|app|runtime|handlers|schemas)\//, '$1/')}:${n.callFrame.lineNumber + 1}`;
  self.set(name, (self.get(name) ?? 0) + n.selfSize);
  all += n.selfSize;
  const s = [...stack, name];
  for (const f of new Set(s)) total.set(f, (total.get(f) ?? 0) + n.selfSize);
  for (const c of n.children) walk(c, s);
}
walk(profile.head, []);
console.log('allocated bytes/message', (all / messages).toFixed(0));
console.log('-- self');
for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log((v / messages).toFixed(0).padStart(7), k);
console.log('-- total');
for (const [k, v] of [...total].sort((a, b) => b[1] - a[1]).slice(0, 40)) console.log((v / messages).toFixed(0).padStart(7), k);
