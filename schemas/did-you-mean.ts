/** Edit distance (insertions, deletions, substitutions, adjacent swaps) between two words. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * ` (did you mean "kill"?)` for the closest known word within a third of its length (at least
 * one edit), or nothing when no word is that close: a wild guess would mislead more than help.
 * Words equally close are all named, and so is every side of a switch (`sides`, e.g. on and off)
 * when one of them is: a guess must never turn "kill of" into the opposite of what was meant.
 */
export function didYouMean(typed: string, known: readonly string[], prefix = '', sides: readonly (readonly string[])[] = []): string {
  let best: { words: string[]; distance: number } | undefined;
  for (const word of known) {
    const distance = editDistance(typed.toLowerCase(), word.toLowerCase());
    if (distance > Math.max(1, Math.floor(word.length / 3))) continue;
    if (best === undefined || distance < best.distance) best = { words: [word], distance };
    else if (distance === best.distance) best.words.push(word);
  }
  if (best === undefined) return '';
  const named = new Set(best.words);
  for (const group of sides) if (group.some((w) => named.has(w))) for (const w of group) if (known.includes(w)) named.add(w);
  const quoted = known.filter((w) => named.has(w)).map((w) => `"${prefix}${w}"`);
  return ` (did you mean ${quoted.length === 1 ? quoted[0] : `${quoted.slice(0, -1).join(', ')} or ${quoted[quoted.length - 1]}`}?)`;
}
