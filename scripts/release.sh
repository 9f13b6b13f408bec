#!/usr/bin/env bash
# Releases side by side under one base (default /opt/quantum-gates), the units running the
# `current` link:
#   BASE/releases/<UTC time>-<commit>/   a complete build: npm ci, npm run build, npm ci --omit=dev
#   BASE/current -> releases/<id>        what the units run; switched in one rename (atomic)
# A new release is built beside the running one, so the running gates and their dashboard keep
# every file they use while it builds; only `systemctl restart` moves them to the new one, and a
# rollback is a switch back to the release before plus a restart.
#
#   release.sh install SOURCE [REF]  build SOURCE (a git repository or checkout) at REF (HEAD)
#                                    into a new release; prints its id; does not switch
#   release.sh switch ID|newest|previous  point `current` at a release (then restart the units)
#   release.sh list                  the releases, newest first, marking current and previous
#   release.sh prune [KEEP]          delete all but the newest KEEP (3) and the current one
# QG_BASE overrides the base directory.
set -euo pipefail
base=${QG_BASE:-/opt/quantum-gates}
releases="$base/releases"

die() { echo "release: $*" >&2; exit 2; }
current_id() { [ -L "$base/current" ] && basename "$(readlink "$base/current")" || true; }
previous_id() { [ -f "$base/previous" ] && cat "$base/previous" || true; }

install_release() {
  local source=$1 ref=${2:-HEAD}
  mkdir -p "$releases"
  building=$(mktemp -d "$releases/.building.XXXXXX")
  local work=$building
  trap 'rm -rf "$building"' EXIT
  git clone --quiet --no-checkout "$source" "$work/tree"
  git -C "$work/tree" checkout --quiet "$ref"
  local commit id
  commit=$(git -C "$work/tree" rev-parse --short=12 HEAD)
  id="$(date -u +%Y%m%dT%H%M%SZ)-$commit"
  [ ! -e "$releases/$id" ] || die "$releases/$id exists already"
  (
    cd "$work/tree"
    # The build needs the development tools whatever the shell says (NODE_ENV=production omits them).
    unset NODE_ENV
    npm ci --include=dev --no-audit --no-fund --loglevel=error >/dev/null
    npm run build --silent >/dev/null
    npm ci --omit=dev --no-audit --no-fund --loglevel=error >/dev/null
  )
  # Only a complete build gets a release's name: a failed one never becomes switchable.
  mv "$work/tree" "$releases/$id"
  rm -rf "$work"
  trap - EXIT
  echo "$id"
}

switch_release() {
  local want=$1
  [ "$want" = previous ] && want=$(previous_id)
  [ "$want" = newest ] && want=$(ls -1r "$releases" 2>/dev/null | head -n 1)
  [ -n "$want" ] || die "no previous release recorded"
  [ -f "$releases/$want/dist/build-info.json" ] || die "$want is not a complete release under $releases"
  local was
  was=$(current_id)
  # A new link under a temporary name, then rename(2) over the old one: readers see the old
  # target or the new one, never a missing link.
  ln -sfn "releases/$want" "$base/.current.new"
  mv -T "$base/.current.new" "$base/current"
  if [ -n "$was" ] && [ "$was" != "$want" ]; then echo "$was" >"$base/previous"; fi
  echo "current -> $want${was:+ (was $was)}; restart the units to run it"
}

list_releases() {
  local cur prev
  cur=$(current_id)
  prev=$(previous_id)
  [ -d "$releases" ] || { echo "no releases under $releases"; return; }
  for dir in $(ls -1r "$releases"); do
    local mark=''
    [ "$dir" = "$cur" ] && mark=' (current)'
    [ "$dir" = "$prev" ] && mark="$mark (previous)"
    echo "$dir$mark"
  done
}

prune_releases() {
  local keep=${1:-3} cur n=0
  cur=$(current_id)
  for dir in $(ls -1r "$releases"); do
    n=$((n + 1))
    if [ "$n" -gt "$keep" ] && [ "$dir" != "$cur" ] && [ "$dir" != "$(previous_id)" ]; then rm -rf "${releases:?}/$dir"; echo "removed $dir"; fi
  done
}

case "${1:-}" in
  install) [ $# -ge 2 ] || die "usage: release.sh install SOURCE [REF]"; install_release "$2" "${3:-HEAD}" ;;
  switch) [ $# -eq 2 ] || die "usage: release.sh switch ID|newest|previous"; switch_release "$2" ;;
  list) list_releases ;;
  prune) prune_releases "${2:-3}" ;;
  *) die "usage: release.sh install SOURCE [REF] | switch ID|newest|previous | list | prune [KEEP]" ;;
esac
