#!/usr/bin/env bash
# Releases side by side under one base (default /opt/quantum-gates), the units running the
# `current` link:
#   BASE/releases/<UTC time>-<version>-<commit>/
#                                a complete build: npm ci (or a copy of the last install of the same
#                                lock file, BASE/.install-cache), npm run build, npm prune --omit=dev; named
#                                by its package.json version and commit (the time first, so the
#                                names sort oldest to newest)
#   BASE/current -> releases/<id>        what the units run; switched in one rename (atomic)
# A new release is built beside the running one, so the running gates and their dashboard keep
# every file they use while it builds; only `systemctl restart` moves them to the new one, and a
# rollback is a switch back to the release before plus a restart.
#
#   release.sh install SOURCE [REF]  build SOURCE (a git repository or checkout) at REF (HEAD)
#                                    into a new release; prints its id; does not switch
#   release.sh switch ID|newest|previous [--accept-differences REASON | --accept-other-differences REASON]
#                                    point `current` at a release (then restart the units); first
#                                    rehearses it on the running gates' tape (below)
#   release.sh shadow ID|newest [DURATION [K]]
#                                    runs the release in shadow beside the running gates for DURATION
#                                    (1h) on live traffic, writing nothing the pipeline reads, and
#                                    records in it (shadow.json) whether at least K (100) inputs were
#                                    compared with no unexplained verdict difference (below)
#   release.sh list                  the releases, newest first, marking current, previous and
#                                    running
#   release.sh prune [KEEP]          delete all but the newest KEEP (3), never the current, the
#                                    previous or a running one
# "previous" is the release that ran before the current one: at each switch, a release a process
# runs from (seen as the gates hold it, below), so a release switched to but never restarted into
# is never one; while nothing is seen running, the one recorded stays.
# Before switching to a release other than the one that ran before (a rollback goes back to code
# that ran), the release's own CLI rehearses it on the decisions the running gates taped
# (`quantum-gates rehearse .`, docs/operations.md "Rehearse before you release"), printing what
# would decide differently and recording the rehearsal in the release (rehearsal.json, shown by
# the status page and `quantum-gates status`). A verdict that would change (permit or block,
# reason, action, heat bucket, outcome, a write made or not), a read the tape cannot answer, a
# taped gate the release lacks, or a rehearsal that cannot run refuses the switch unless
# --accept-differences says why. Decisions that differ only in other fields (settings a record
# echoes, figures, times, TTLs, scheduled jobs) refuse it too, as they may matter (a TTL is how
# long a permit is remembered), but --accept-other-differences REASON accepts them and nothing
# more: it still refuses a verdict change or an unanswerable read. Either way the reason, who gave
# it, when, and which differences it accepted (scope all or other) are recorded with it. The first
# switch, with no `current` yet, has no running gates to rehearse on.
# The shadow step, between install and switch, runs the release's own CLI beside the running gates
# (`quantum-gates shadow --beside current`, docs/shadow.md) and records the run as the release's
# shadow.json. A switch to a release whose shadow.json did not pass (an unexplained verdict
# difference, or fewer than K inputs compared) is refused unless --accept-differences says why;
# with QG_REQUIRE_SHADOW=1 a release without one is refused too. The offline rehearsal runs first
# either way.
# QG_BASE overrides the base directory.
set -euo pipefail
base=${QG_BASE:-/opt/quantum-gates}
releases="$base/releases"

die() { echo "release: $*" >&2; exit 2; }
current_id() { if [ -L "$base/current" ]; then basename "$(readlink "$base/current")"; fi; }
previous_id() { if [ -f "$base/previous" ]; then cat "$base/previous"; fi; }
# The releases, newest first: their names begin with their UTC time. A glob, not ls: a release's
# name is never split or mangled (and .building.* folders, being hidden, are not releases).
release_ids() {
  local dir
  for dir in "$releases"/*/; do
    if [ -d "$dir" ]; then basename "$dir"; fi
  done | sort -r
}
# The releases processes run from now, as the processes say it: the package.json each gates'
# process holds open from its start (app/release-hold.ts), resolved then, whatever its working
# directory; and the working directories in a release (the units set it to the `current` link).
# Every process's under root, this user's otherwise.
running_ids() {
  local real dir
  real=$(realpath "$releases" 2>/dev/null) || return 0
  # find prints each link's target itself: no readlink process per process on the machine.
  # (It fails on a process that ends while it looks, which is no reason to stop.)
  { find /proc/[0-9]*/cwd /proc/[0-9]*/fd -maxdepth 1 -printf '%l\n' 2>/dev/null || true; } | while IFS= read -r dir; do
    case "$dir" in "$real"/*) dir=${dir#"$real"/} && echo "${dir%%/*}" ;; esac
  done | sort -u
}

# npm ci, or a copy of the install an earlier `install` made from the same lock file with the same
# Node and npm on this machine (BASE/.install-cache/KEY/node_modules, development tools included,
# the last one kept): what npm ci installs is a function of those alone, so the copy is the same
# tree, in ~4 s where npm ci takes ~35 s. An upgrade that changes no dependency is most of them.
# Run in the release's tree, before the build.
install_dependencies() {
  local cache="$base/.install-cache" key kept
  key=$({ sha256sum package-lock.json && node -p 'process.version + " " + process.platform + " " + process.arch' && npm --version; } | sha256sum | cut -c1-32)
  if [ -d "$cache/$key/node_modules" ]; then
    cp -a "$cache/$key/node_modules" node_modules
    return
  fi
  npm ci --include=dev --no-audit --no-fund --loglevel=error >/dev/null
  # Kept whole or not at all: copied under a temporary name, renamed into place; older keys go.
  mkdir -p "$cache"
  kept=$(mktemp -d "$cache/.copying.XXXXXX")
  cp -a node_modules "$kept/node_modules"
  rm -rf "$kept/node_modules/.cache"
  find "$cache" -mindepth 1 -maxdepth 1 ! -name '.*' -exec rm -rf {} +
  mv "$kept" "$cache/$key"
}

install_release() {
  local source=$1 ref=${2:-HEAD}
  mkdir -p "$releases"
  building=$(mktemp -d "$releases/.building.XXXXXX")
  local work=$building
  trap 'rm -rf "$building"' EXIT
  git clone --quiet --no-checkout "$source" "$work/tree"
  git -C "$work/tree" checkout --quiet "$ref"
  local commit version id
  commit=$(git -C "$work/tree" rev-parse --short=12 HEAD)
  version=$(cd "$work/tree" && node -p 'require("./package.json").version')
  [[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+ ]] || die "$ref's package.json has no version (got \"$version\")"
  id="$(date -u +%Y%m%dT%H%M%SZ)-$version-$commit"
  [ ! -e "$releases/$id" ] || die "$releases/$id exists already"
  (
    cd "$work/tree"
    # The build needs the development tools whatever the shell says (NODE_ENV=production omits them).
    unset NODE_ENV
    install_dependencies
    npm run build --silent >/dev/null
    # The development tools out of the same install: the lock file's production tree, file for
    # file what a second `npm ci --omit=dev` installs, in ~3 s where that took ~30 s.
    npm prune --omit=dev --no-audit --no-fund --loglevel=error >/dev/null
  )
  # Only a complete build gets a release's name: a failed one never becomes switchable.
  mv "$work/tree" "$releases/$id"
  rm -rf "$work"
  trap - EXIT
  echo "$id"
}

# Rehearses release $1 on the running gates' tape, accepting for reason $3 (if any) its differences
# ($2 all: every one, or a rehearsal that cannot run; other: those in other fields only).
rehearse_release() {
  local want=$1 scope=$2 reason=$3 code=0 accept=()
  local cli="$releases/$want/bin/quantum-gates.js"
  [ -x "$cli" ] || die "$want has no bin/quantum-gates.js to rehearse it with"
  if [ -n "$reason" ]; then
    if [ "$scope" = other ]; then accept=(--accept-other "$reason"); else accept=(--accept "$reason"); fi
  fi
  echo "rehearsing $want on the running gates' tape:"
  "$cli" rehearse . --record "$releases/$want/rehearsal.json" "${accept[@]}" || code=$?
  if [ "$code" -eq 0 ]; then
    if [ "$scope" = other ] && [ -n "$reason" ]; then echo "release: other differences accepted (${reason}); recorded in $releases/$want/rehearsal.json"; fi
    return 0
  fi
  if [ -n "$reason" ] && [ "$scope" = all ]; then
    echo "release: accepted (${reason}); recorded in $releases/$want/rehearsal.json"
    return 0
  fi
  if [ "$code" -eq 1 ] && [ "$scope" = other ] && [ -n "$reason" ]; then
    die "refused: the rehearsal above found verdicts $want would change, taped decisions it did not rehearse or gates it lacks, which --accept-other-differences does not accept; switch again with --accept-differences REASON to accept them"
  fi
  [ "$code" -eq 1 ] && die "refused: the rehearsal above found decisions $want would make differently or did not rehearse; switch again with --accept-differences REASON to accept them (--accept-other-differences REASON when none changes its verdict)"
  die "refused: $want could not be rehearsed (above); switch again with --accept-differences REASON to switch without a rehearsal"
}

# Runs release $1 in shadow beside the running gates for $2, requiring $3 inputs compared.
shadow_release() {
  local want=$1 for=${2:-1h} min=${3:-100}
  [ "$want" = newest ] && want=$(release_ids | sed -n 1p)
  [ -f "$releases/$want/dist/build-info.json" ] || die "$want is not a complete release under $releases"
  local cli="$releases/$want/bin/quantum-gates.js"
  [ -x "$cli" ] || die "$want has no bin/quantum-gates.js to run it in shadow with"
  echo "running $want in shadow beside the running gates for $for (at least $min inputs compared):"
  local code=0
  "$cli" shadow --beside current --for "$for" --min-decisions "$min" --port 0 --record "$releases/$want/shadow.json" || code=$?
  [ "$code" -eq 0 ] && { echo "release: $want's shadow passed; recorded in $releases/$want/shadow.json"; return 0; }
  [ "$code" -eq 1 ] && die "$want's shadow did not pass (above): an unexplained verdict difference, or too few inputs compared; recorded in $releases/$want/shadow.json"
  die "$want could not run in shadow (above)"
}

# Refuses the switch to $1 when its shadow did not pass (or, with QG_REQUIRE_SHADOW=1, never ran), unless reason $2 accepts it.
check_shadow() {
  local want=$1 reason=$2 record="$releases/$1/shadow.json"
  if [ ! -f "$record" ]; then
    [ "${QG_REQUIRE_SHADOW:-0}" = 1 ] && [ -z "$reason" ] && die "refused: $want has not run in shadow (release.sh shadow $want), and QG_REQUIRE_SHADOW=1"
    return 0
  fi
  if grep -q '"passed": true' "$record"; then echo "release: $want's shadow passed ($record)"; return 0; fi
  [ -n "$reason" ] && { echo "release: $want's shadow did not pass; accepted (${reason})"; return 0; }
  die "refused: $want's shadow did not pass ($record: an unexplained verdict difference, or too few inputs compared); switch again with --accept-differences REASON to accept it"
}

switch_release() {
  local want=$1 scope=${2:-all} reason=${3:-} asked=$1
  [ "$want" = previous ] && want=$(previous_id)
  [ "$want" = newest ] && want=$(release_ids | sed -n 1p)
  [ -n "$want" ] || die "no previous release recorded"
  [ -f "$releases/$want/dist/build-info.json" ] || die "$want is not a complete release under $releases"
  if [ "$asked" != previous ] && [ -n "$(current_id)" ] && [ "$want" != "$(current_id)" ]; then
    rehearse_release "$want" "$scope" "$reason"
    check_shadow "$want" "$([ "$scope" = all ] && echo "$reason")"
  fi
  local was running ran
  was=$(current_id)
  running=$(running_ids)
  # What ran before this switch: a release running now other than the one switched to; when only
  # that one, or none, is seen running, the record stays as it is (`current` may never have run),
  # but for the first switch away from a release, when none is recorded yet.
  ran=$(grep -vxF -- "$want" <<<"$running" | head -n 1 || true)
  [ -n "$ran" ] || [ -n "$running" ] || [ -n "$(previous_id)" ] || ran=$was
  # A new link under a temporary name, then rename(2) over the old one: readers see the old
  # target or the new one, never a missing link.
  ln -sfn "releases/$want" "$base/.current.new"
  mv -T "$base/.current.new" "$base/current"
  if [ -n "$ran" ] && [ "$ran" != "$want" ]; then echo "$ran" >"$base/previous"; fi
  echo "current -> $want${was:+ (was $was)}; restart the units to run it"
}

list_releases() {
  local cur prev running
  cur=$(current_id)
  prev=$(previous_id)
  running=$(running_ids)
  [ -d "$releases" ] || { echo "no releases under $releases"; return; }
  while IFS= read -r dir; do
    local mark=''
    [ "$dir" = "$cur" ] && mark=' (current)'
    [ "$dir" = "$prev" ] && mark="$mark (previous)"
    grep -qxF -- "$dir" <<<"$running" && mark="$mark (running)"
    echo "$dir$mark"
  done < <(release_ids)
}

prune_releases() {
  local keep=${1:-3} cur prev running n=0
  [[ "$keep" =~ ^[0-9]+$ ]] || die "prune KEEP must be a whole number (got \"$keep\")"
  cur=$(current_id)
  prev=$(previous_id)
  running=$(running_ids)
  while IFS= read -r dir; do
    n=$((n + 1))
    [ "$n" -gt "$keep" ] || continue
    if [ "$dir" = "$cur" ] || [ "$dir" = "$prev" ] || grep -qxF -- "$dir" <<<"$running"; then
      echo "kept $dir (current, previous or running)"
      continue
    fi
    rm -rf "${releases:?}/$dir"
    echo "removed $dir"
  done < <(release_ids)
}

case "${1:-}" in
  install) [ $# -ge 2 ] || die "usage: release.sh install SOURCE [REF]"; install_release "$2" "${3:-HEAD}" ;;
  switch)
    if [ $# -eq 4 ] && [ "$3" = --accept-differences ] && [ -n "$4" ]; then switch_release "$2" all "$4"
    elif [ $# -eq 4 ] && [ "$3" = --accept-other-differences ] && [ -n "$4" ]; then switch_release "$2" other "$4"
    else [ $# -eq 2 ] || die "usage: release.sh switch ID|newest|previous [--accept-differences REASON | --accept-other-differences REASON]"; switch_release "$2"; fi ;;
  shadow) { [ $# -ge 2 ] && [ $# -le 4 ]; } || die "usage: release.sh shadow ID|newest [DURATION [K]]"; shadow_release "$2" "${3:-1h}" "${4:-100}" ;;
  list) list_releases ;;
  prune) prune_releases "${2:-3}" ;;
  *) die "usage: release.sh install SOURCE [REF] | shadow ID|newest [DURATION [K]] | switch ID|newest|previous [--accept-differences REASON | --accept-other-differences REASON] | list | prune [KEEP]" ;;
esac
