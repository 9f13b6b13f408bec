/**
 * Sums a V8 CPU profile (`node --cpu-prof`, as `BENCH_CPU_PROF=1 npm run bench` writes them under
 * bench/results/profiles/) into the stages of a message's way through the gates, in µs per message.
 *
 *   npx tsx bench/profile-breakdown.ts <file.cpuprofile> [--messages N] [--top 25]
 *
 * Each sample goes to one stage: the stack is walked from the sampled function outwards and the
 * first frame with a source file that a rule below names decides (a built-in such as JSON.stringify
 * or Array.prototype.push has no file and counts for its caller). So the stages are exclusive and
 * add up to the window. The window is the drain: from the first to the last sample in which a
 * gate's own code (handlers/) is on the stack, which leaves start-up and the idle tail out.
 * --messages divides by the messages drained in it (default: the count the bench drains, 100,000).
 */
import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
  readonly columnNumber?: number;
}
interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: number[];
}
interface CpuProfile {
  readonly nodes: ProfileNode[];
  readonly samples: number[];
  readonly timeDeltas: number[];
}

export type Stage =
  | 'parse'
  | 'validate'
  | 'book'
  | 'decide'
  | 'encode'
  | 'pipeline'
  | 'commit'
  | 'metrics'
  | 'redis i/o'
  | 'logging'
  | 'gc'
  | 'v8/native'
  | 'idle'
  | 'other';

/**
 * The stage of one frame, or undefined to keep walking outwards. Checked in order; paths are
 * relative to the checkout (tsx names the sources) or to node_modules.
 */
const rules: readonly [RegExp, Stage][] = [
  // Reading: Redis's replies parsed into JavaScript, stream entries into field records.
  [/node_modules\/redis-parser\//, 'parse'],
  [/runtime\/(contract|engine|sources|host)?\/?(stream-reader|redis-reader|backlog)\.ts/, 'parse'],
  [
    /node_modules\/ioredis\/built\/(utils|command)\b.*#(convertReplyToBuffer|convertObjectToArray|convertMapToArray|packObject|wrapMultiResult)/,
    'parse',
  ],
  // Validation: zod and the schemas that are not output formats.
  [/node_modules\/zod\//, 'validate'],
  [/schemas\/(python-number|python-json|governor-event|governor-records)\.ts#(encode|py|json|format)/i, 'encode'],
  [/schemas\/(python-number|python-json)\.ts/, 'encode'],
  [/schemas\//, 'validate'],
  // The state a batch decides on: the position book, the governor's snapshot and ledger.
  [/handlers\/positions\//, 'book'],
  [/handlers\/position-snapshot\.ts/, 'book'],
  [/handlers\/governor\/(snapshot|positions|batch-ledger|history|reservations|switches|disarm)\.ts/, 'book'],
  // Metrics: prom-client, the runtime's deferred updates, the gates' metric helpers.
  [/node_modules\/prom-client\//, 'metrics'],
  [/runtime\/.*metrics\.ts/, 'metrics'],
  [/handlers\/[^/]+\/metrics\.ts/, 'metrics'],
  // Encoding: the gates' output entries, the commit script's arguments, ioredis building commands.
  [/handlers\/heat-gate\/outputs\.ts/, 'encode'],
  [/handlers\/governor\/(decision-detail|record)\.ts/, 'encode'],
  [/runtime\/.*(batch-script|effect-commands|resp)\.ts/, 'encode'],
  [/node_modules\/ioredis\/built\/(Command|Pipeline)\.js/, 'encode'],
  [/node_modules\/ioredis\/built\/utils\//, 'encode'],
  [/node_modules\/(denque|standard-as-callback|cluster-key-slot)\//, 'redis i/o'],
  // Deciding: the gates' own logic.
  [/domain\//, 'decide'],
  [/handlers\//, 'decide'],
  // The commit: the transaction, its answer, settling the batch, idempotency records.
  [/runtime\/.*(commit|commit-loop|cluster-commit|settle|idempotency|dead-letter)\.ts/, 'commit'],
  [/node_modules\/bullmq\//, 'commit'],
  // The pipeline's bookkeeping per message: inputs, contexts, effect recording, the handler call.
  [
    /runtime\/.*(message-pipeline|execute|message-context|effects|stream-consumer|job-runner|handler|delivery|run|pipeline)\.ts/,
    'pipeline',
  ],
  [/runtime\/.*(logger|log-throttle|log-format)\.ts/, 'logging'],
  [/node_modules\/(pino|sonic-boom|thread-stream)/, 'logging'],
  // Talking to Redis: ioredis's connection and Node's socket and stream machinery.
  [/node_modules\/ioredis\//, 'redis i/o'],
  [/^node:(net|stream|internal\/streams|internal\/stream_base_commons|internal\/net|buffer|internal\/buffer|string_decoder)/, 'redis i/o'],
  [/^node:internal\/(process\/task_queues|timers|async_hooks)/, 'other'],
  [/runtime\//, 'pipeline'],
];

const special: Record<string, Stage> = {
  '(garbage collector)': 'gc',
  '(idle)': 'idle',
  '(program)': 'v8/native',
  '(root)': 'other',
};

function relativeUrl(url: string): string {
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) return url.slice(nm + 1);
  return url.replace(/^file:\/\/.*?\/(app|bench|cli|domain|handlers|runtime|schemas|dist)\//, '$1/');
}

function stageOfFrame(frame: CallFrame): Stage | undefined {
  const name = special[frame.functionName];
  if (name !== undefined && frame.url === '') return name;
  if (frame.url === '') return undefined;
  const key = `${relativeUrl(frame.url)}#${frame.functionName}`;
  for (const [pattern, stage] of rules) if (pattern.test(key)) return stage;
  return undefined;
}

export interface Breakdown {
  readonly windowMs: number;
  readonly messages: number;
  readonly stages: Record<Stage, number>;
  readonly topFunctions: { readonly name: string; readonly stage: Stage; readonly selfMs: number }[];
  /** Total (inclusive) time per source file: every sample counts once for each file on its stack. */
  readonly topFiles: { readonly file: string; readonly totalMs: number }[];
}

export function breakdown(profile: CpuProfile, messages: number, top = 25): Breakdown {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const stageOfNode = new Map<number, Stage>();
  const gateOnStack = new Map<number, boolean>();
  const resolveNode = (id: number): [Stage, boolean] => {
    const known = stageOfNode.get(id);
    if (known !== undefined) return [known, gateOnStack.get(id)!];
    let stage: Stage | undefined;
    let gate = false;
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)!.callFrame;
      stage ??= stageOfFrame(frame);
      if (/\/handlers\//.test(frame.url)) gate = true;
    }
    stage ??= 'other';
    stageOfNode.set(id, stage);
    gateOnStack.set(id, gate);
    return [stage, gate];
  };
  // timeDeltas[i] is the time from sample i-1 to sample i: the time sample i stands for is the next delta.
  const durations = profile.samples.map((_, i) => profile.timeDeltas[i + 1] ?? 0);
  let first = -1;
  let last = -1;
  profile.samples.forEach((id, i) => {
    if (resolveNode(id)[1]) {
      if (first < 0) first = i;
      last = i;
    }
  });
  const stages = Object.fromEntries(
    [
      'parse',
      'validate',
      'book',
      'decide',
      'encode',
      'pipeline',
      'commit',
      'metrics',
      'redis i/o',
      'logging',
      'gc',
      'v8/native',
      'idle',
      'other',
    ].map((s) => [s, 0]),
  ) as Record<Stage, number>;
  const self = new Map<number, number>();
  const filesOf = new Map<number, Set<string>>();
  const fileTotals = new Map<string, number>();
  let windowUs = 0;
  for (let i = Math.max(first, 0); i <= last; i++) {
    const id = profile.samples[i]!;
    const us = durations[i]!;
    windowUs += us;
    stages[resolveNode(id)[0]] += us;
    self.set(id, (self.get(id) ?? 0) + us);
    let files = filesOf.get(id);
    if (files === undefined) {
      files = new Set();
      for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
        const { url } = byId.get(at)!.callFrame;
        if (url !== '') files.add(relativeUrl(url).replace(/^(node_modules\/(@[^/]+\/)?[^/]+)\/.*$/, '$1'));
      }
      filesOf.set(id, files);
    }
    for (const file of files) fileTotals.set(file, (fileTotals.get(file) ?? 0) + us);
  }
  // Self time per function (all nodes of the same function and place summed).
  const perFunction = new Map<string, { stage: Stage; us: number }>();
  for (const [id, us] of self) {
    const { callFrame } = byId.get(id)!;
    const name = `${callFrame.functionName || '(anonymous)'} ${callFrame.url ? `${relativeUrl(callFrame.url)}:${callFrame.lineNumber + 1}` : '(native)'}`;
    const entry = perFunction.get(name) ?? { stage: resolveNode(id)[0], us: 0 };
    entry.us += us;
    perFunction.set(name, entry);
  }
  const topFunctions = [...perFunction.entries()]
    .sort((a, b) => b[1].us - a[1].us)
    .slice(0, top)
    .map(([name, { stage, us }]) => ({ name, stage, selfMs: us / 1000 }));
  const topFiles = [...fileTotals.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([file, us]) => ({ file, totalMs: us / 1000 }));
  return { windowMs: windowUs / 1000, messages, stages, topFunctions, topFiles };
}

/**
 * The profile with each frame of a bundled file (the compiled build's dist/chunks/*.js) named by its
 * source file through the bundle's source map, so the rules above apply to it as to the tsx build's.
 */
export function withSources(profile: CpuProfile): CpuProfile {
  const maps = new Map<string, SourceMap | undefined>();
  const mapOf = (url: string) => {
    if (!maps.has(url)) {
      const path = `${fileURLToPath(url)}.map`;
      maps.set(url, existsSync(path) ? new SourceMap(JSON.parse(readFileSync(path, 'utf8')) as never) : undefined);
    }
    return maps.get(url);
  };
  const nodes = profile.nodes.map((node) => {
    const { url, lineNumber, columnNumber } = node.callFrame;
    if (!url.startsWith('file://') || !url.endsWith('.js') || url.includes('/node_modules/')) return node;
    const entry = mapOf(url)?.findEntry(lineNumber, columnNumber ?? 0) as { originalSource?: string; originalLine?: number } | undefined;
    if (entry?.originalSource === undefined) return node;
    const source = new URL(entry.originalSource, url);
    return {
      ...node,
      callFrame: { ...node.callFrame, url: pathToFileURL(fileURLToPath(source)).href, lineNumber: entry.originalLine ?? lineNumber },
    };
  });
  return { ...profile, nodes };
}

function main(): void {
  const args = process.argv.slice(2);
  const file = args.find((a) => !a.startsWith('--') && !/^\d+$/.test(a));
  if (file === undefined) {
    console.error('usage: npx tsx bench/profile-breakdown.ts <file.cpuprofile> [--messages N] [--top 25]');
    process.exit(2);
  }
  const option = (name: string, fallback: number) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? Number(args[i + 1]) : fallback;
  };
  const messages = option('messages', 100_000);
  const result = breakdown(withSources(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile), messages, option('top', 25));
  const busy = result.windowMs - result.stages.idle / 1000;
  console.log(`${file}\nwindow ${result.windowMs.toFixed(0)} ms, busy ${busy.toFixed(0)} ms, ${messages} messages\n`);
  console.log('stage        µs/message   share of busy');
  for (const [stage, us] of Object.entries(result.stages))
    console.log(
      `${stage.padEnd(12)} ${(us / messages).toFixed(2).padStart(10)}   ${stage === 'idle' ? '' : `${((us / 1000 / busy) * 100).toFixed(1)} %`}`,
    );
  console.log(`${'busy total'.padEnd(12)} ${((busy * 1000) / messages).toFixed(2).padStart(10)}`);
  console.log(`\ntop ${result.topFunctions.length} functions by self time (µs/message, stage)`);
  for (const f of result.topFunctions)
    console.log(`${((f.selfMs * 1000) / messages).toFixed(2).padStart(8)}  ${f.stage.padEnd(10)} ${f.name}`);
  console.log(`\ntop ${result.topFiles.length} modules by total time (µs/message; node_modules by package)`);
  for (const f of result.topFiles) console.log(`${((f.totalMs * 1000) / messages).toFixed(2).padStart(8)}  ${f.file}`);
}

if (import.meta.url === `file://${process.argv[1]}`) main();
