/**
 * The shell blocks of a Markdown document, as an operator would copy them, with what their
 * comments promise. Used by the docs-run test, so a documented command that stops working, or
 * stops doing what its comment says, fails CI instead of the next operator.
 */
export interface DocBlock {
  /** 1-based line of the opening fence. */
  readonly line: number;
  /** The block's text, indentation of a fenced block inside a list removed. */
  readonly script: string;
  /** Why the block is not run here, from a `<!-- docs-run: skip: reason -->` line just above it. */
  readonly skip: string | undefined;
  /**
   * Settings the block's gates need beyond the defaults, from a `<!-- docs-run: gates: A=1 B=2 -->`
   * line just above it: the block runs against gates of its own started with them.
   */
  readonly gatesEnv: Readonly<Record<string, string>> | undefined;
  /**
   * From a `<!-- docs-run: per-gate -->` line just above it: the block belongs to §1's one process
   * per gate, and runs as a server's operator runs it (root's tools and systemctl stood in for,
   * /etc/quantum a directory of the test's) against the instances that deployment started.
   */
  readonly perGate: boolean;
  /**
   * From a `<!-- docs-run: server -->` line just above it: §1's one-process server install, upgrade
   * or rollback. They build real releases (npm ci, each about a minute), so they run in
   * test/integration/docs-upgrade.test.ts, not with the other blocks.
   */
  readonly server: boolean;
}

/** An outcome a command's trailing comment promises: `# → PARTIAL_25`, `# permit: close_bypass`, `# block: rate_limit`. */
export type DocumentedOutcome =
  | { readonly kind: 'calibrated'; readonly planId: string; readonly action: string; readonly line: string }
  | {
      readonly kind: 'governor';
      readonly planId: string;
      readonly verdict: 'permit' | 'block';
      readonly reason: string;
      readonly line: string;
    };

const FENCE = /^(\s*)```(\S*)\s*$/;
const SKIP = /^\s*<!--\s*docs-run:\s*skip:\s*(.+?)\s*-->\s*$/;
const GATES_ENV = /^\s*<!--\s*docs-run:\s*gates:\s*(.+?)\s*-->\s*$/;
const PER_GATE = /^\s*<!--\s*docs-run:\s*per-gate\s*-->\s*$/;
const SERVER = /^\s*<!--\s*docs-run:\s*server\s*-->\s*$/;

/** Every ```sh block of `markdown`, in order. */
export function shellBlocks(markdown: string): DocBlock[] {
  const lines = markdown.split('\n');
  const blocks: DocBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]!);
    if (!open) continue;
    const indent = open[1]!.length;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !/^\s*```\s*$/.test(lines[j]!); j++) body.push(lines[j]!.slice(Math.min(indent, lines[j]!.search(/\S|$/))));
    if (open[2] === 'sh') {
      let above = i - 1;
      while (above >= 0 && lines[above]!.trim() === '') above--;
      const skip = above >= 0 ? SKIP.exec(lines[above]!)?.[1] : undefined;
      const settings = above >= 0 ? GATES_ENV.exec(lines[above]!)?.[1] : undefined;
      const gatesEnv =
        settings === undefined
          ? undefined
          : Object.fromEntries(settings.split(/\s+/).map((pair) => pair.split('=', 2) as [string, string]));
      const perGate = above >= 0 && PER_GATE.test(lines[above]!);
      const server = above >= 0 && SERVER.test(lines[above]!);
      blocks.push({ line: i + 1, script: body.join('\n'), skip, gatesEnv, perGate, server });
    }
    i = j;
  }
  return blocks;
}

/** The outcomes the block's comments promise; a promise on a line without --plan-id is an error. */
export function documentedOutcomes(script: string): DocumentedOutcome[] {
  const promises: DocumentedOutcome[] = [];
  for (const line of script.split('\n')) {
    const comment = /\s#\s*(.*)$/.exec(line)?.[1];
    if (comment === undefined) continue;
    const planId = /--plan-id\s+(\S+)/.exec(line)?.[1];
    if (/\binject proposal\b/.test(line)) {
      const arrow = /^→\s*(\S+)/.exec(comment);
      if (!arrow) continue;
      if (!planId) throw new Error(`a documented outcome needs a --plan-id to be checked: ${line.trim()}`);
      const action = arrow[1] === 'unchanged' ? (/--action\s+(\S+)/.exec(line)?.[1] ?? '') : arrow[1]!;
      promises.push({ kind: 'calibrated', planId, action, line: line.trim() });
    } else if (/\binject plan\b/.test(line)) {
      const verdict = /^(permit|block):\s*([a-z0-9_]+)/.exec(comment);
      if (!verdict) continue;
      if (!planId) throw new Error(`a documented outcome needs a --plan-id to be checked: ${line.trim()}`);
      promises.push({ kind: 'governor', planId, verdict: verdict[1] as 'permit' | 'block', reason: verdict[2]!, line: line.trim() });
    }
  }
  return promises;
}

/**
 * Lines of a block that hold a placeholder (`...` or `…`) where a reader would have to invent
 * something: a command copied from the docs must run as it is. Comments count too: an elided
 * sample output reads as "fill this in" as much as an elided argument does.
 */
export function placeholderLines(script: string): string[] {
  return script.split('\n').filter((line) => /\.\.\.|…/.test(line));
}
