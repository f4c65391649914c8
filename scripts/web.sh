#!/usr/bin/env bash
# The learner's web app (web/): build the bundle, or check that the committed one matches
# its sources.
#
#   scripts/web.sh build   install the pinned dependencies if needed, build web/dist/
#   scripts/web.sh check   type-check (strict), build into a temporary folder, and fail if
#                          the build differs from the committed web/dist/
#
# Needs Node.js (20 or later) and npm. The Rust build does not: web/dist/ is committed and
# embedded as it is.
set -euo pipefail
cd "$(dirname "$0")/.."
web=web

die() { echo "web.sh: $*" >&2; exit 1; }
command -v node >/dev/null || die "node is not installed (Node.js 20 or later is needed to build web/)"
command -v npm >/dev/null || die "npm is not installed"

# Installs web/node_modules from the lockfile when it is missing or was installed from
# another lockfile. --ignore-scripts: no package runs code at install time.
deps() {
  local stamp="$web/node_modules/.gauntlet-lock.sha256"
  local want
  want=$(sha256sum "$web/package-lock.json" "$web/package.json" | sha256sum | cut -d' ' -f1)
  if [[ -f $stamp && $(cat "$stamp") == "$want" ]]; then
    return
  fi
  echo "web.sh: installing web/ dependencies (npm ci)" >&2
  (cd "$web" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  echo "$want" >"$stamp"
}

case "${1:-}" in
  build)
    deps
    node "$web/build.mjs"
    echo "web.sh: built $web/dist/" >&2
    ;;
  check)
    deps
    (cd "$web" && node_modules/.bin/tsc --noEmit -p .) || die "type errors in web/src (above)"
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    node "$web/build.mjs" --outdir "$tmp"
    if ! diff -r -q "$web/dist" "$tmp" >&2; then
      die "web/dist/ does not match its sources: run 'scripts/web.sh build' and commit web/dist/"
    fi
    echo "web.sh: web/dist/ matches its sources" >&2
    ;;
  *)
    echo "usage: scripts/web.sh build|check" >&2
    exit 2
    ;;
esac
