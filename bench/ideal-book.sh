#!/usr/bin/env bash
# A bundle whose position book costs nothing to read, to see what a held symbol costs a decision
# outside the book (docs/performance.md "Held positions"). In a temporary worktree of HEAD,
# loadPositionBook answers each kind of read (its options but the clock) with that kind's 20th read
# from then on: no reads, no fold, and the memory the first decisions wrote already in it, so no
# decision writes it again. Never a product: its decisions ignore every write after the 20th read.
# Usage: bash bench/ideal-book.sh [dir] (default bench/results/ideal-book), then
# BENCH_ONLY=held-slope BENCH_BUNDLE_DIR=<dir> npm run bench.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
out=$(realpath -m "${1:-bench/results/ideal-book}")
tree=$(mktemp -d)
trap 'git -C "$root" worktree remove --force "$tree" >/dev/null 2>&1 || true; git -C "$root" worktree prune' EXIT
git worktree add -q --detach "$tree" HEAD
ln -s "$root/node_modules" "$tree/node_modules"
node - "$tree/handlers/positions/book.ts" <<'EOF'
const { readFileSync, writeFileSync } = require('node:fs');
const file = process.argv[2];
const real = 'export async function loadPositionBook(redis: RedisReader, config: PositionBookConfig, options: BookReadOptions): Promise<BookAndEquity> {';
const source = readFileSync(file, 'utf8');
if (!source.includes(real)) throw new Error(`${file}: loadPositionBook's signature changed; update bench/ideal-book.sh`);
const ideal = `const idealBooks = new Map<string, Promise<BookAndEquity>>();
const idealReads = new Map<string, number>();
export function loadPositionBook(redis: RedisReader, config: PositionBookConfig, options: BookReadOptions): Promise<BookAndEquity> {
  const kind = JSON.stringify({ ...options, now: undefined });
  const kept = idealBooks.get(kind);
  if (kept !== undefined) return kept;
  const reads = (idealReads.get(kind) ?? 0) + 1;
  idealReads.set(kind, reads);
  const read = loadPositionBookRead(redis, config, options);
  if (reads >= 20) idealBooks.set(kind, read);
  return read;
}
async function loadPositionBookRead(redis: RedisReader, config: PositionBookConfig, options: BookReadOptions): Promise<BookAndEquity> {`;
writeFileSync(file, source.replace(real, ideal));
EOF
(cd "$tree" && node scripts/bundle.mjs "$out" >/dev/null && node scripts/write-build-info.mjs "$out" >/dev/null)
echo "$out"
