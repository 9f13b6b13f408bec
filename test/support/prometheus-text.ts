import { spawnSync } from 'node:child_process';

/**
 * The rules of Prometheus' text format (0.0.4) a scrape rejects: at most one HELP and one TYPE
 * per family, TYPE before the family's samples, a family's samples together, and well-formed
 * sample lines. Answers the problems found, one line each.
 */
export function prometheusTextProblems(text: string): string[] {
  const problems: string[] = [];
  const help = new Set<string>();
  const typed = new Set<string>();
  const finished = new Set<string>();
  let current: string | undefined;
  const enter = (family: string, line: number) => {
    if (family === current) return;
    if (finished.has(family)) problems.push(`line ${line}: family ${family} continues after another family began`);
    if (current !== undefined) finished.add(current);
    current = family;
  };
  text.split('\n').forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim() === '') return;
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*)(?: (.*))?$/.exec(raw);
    if (meta) {
      const [, kind, family] = meta as unknown as [string, 'HELP' | 'TYPE', string];
      enter(family, line);
      const seen = kind === 'HELP' ? help : typed;
      if (seen.has(family)) problems.push(`line ${line}: second ${kind} line for ${family}`);
      seen.add(family);
      if (kind === 'TYPE' && !/^(counter|gauge|histogram|summary|untyped)$/.test(meta[3] ?? ''))
        problems.push(`line ${line}: unknown type "${meta[3]}"`);
      return;
    }
    if (raw.startsWith('#')) return; // a comment
    const sample =
      /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:\s*[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"\s*,?)*\s*\})? (-?[0-9.eE+-]+|NaN|[+-]Inf)( -?\d+)?$/.exec(
        raw,
      );
    if (!sample) {
      problems.push(`line ${line}: not a sample: ${raw}`);
      return;
    }
    const name = sample[1]!;
    const family =
      [...typed].find((f) => name === f || (/_(bucket|sum|count)$/.test(name) && name.replace(/_(bucket|sum|count)$/, '') === f)) ?? name;
    enter(family, line);
  });
  return problems;
}

/** `promtool check metrics` on the text: its exit status and what it printed (1 means it could not parse it). */
export function promtoolCheckMetrics(text: string): { status: number | null; output: string; missing: boolean } {
  const run = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  const missing = (run.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
  return { status: run.status, output: `${run.stdout ?? ''}${run.stderr ?? ''}`, missing };
}
