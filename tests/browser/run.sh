#!/usr/bin/env bash
# The browser tests of the pages: Debian's chromium, headless, driven over the DevTools protocol by
# puppeteer-core (from npm, no browser download), with axe-core. Starts the service on a free port with a
# temporary SQLite database and the seed data, runs pages.test.mjs against it, and stops it.
#
#   tests/browser/run.sh
set -euo pipefail
cd "$(dirname "$0")"
root="$(cd ../.. && pwd)"

apt_updated=""
apt_install() {
  [ -n "$apt_updated" ] || { apt-get update -qq >/dev/null; apt_updated=1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
if [ ! -x /usr/bin/chromium ]; then
  echo "installing chromium (Debian package)" >&2
  apt_install chromium
fi
if ! command -v npm >/dev/null; then
  echo "installing Node.js and npm (Debian packages)" >&2
  apt_install nodejs npm
fi
PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error >/dev/null

(cd "$root" && cargo build --locked --quiet)
work="$(mktemp -d)"
service_pid=""
cleanup() {
  if [ -n "$service_pid" ]; then kill "$service_pid" 2>/dev/null || true; wait "$service_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
DATABASE_URL="sqlite://$work/rbn.sqlite3" RBN_LISTEN="127.0.0.1:$port" RBN_SEED=true RUST_LOG=warn \
  "$root/target/debug/rbn" serve 2>"$work/service.log" &
service_pid=$!
for _ in $(seq 1 100); do curl -fsS "$base/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fsS "$base/readyz" >/dev/null || { cat "$work/service.log" >&2; exit 1; }
# The seed has no meetings: Kreis Mettmann gets one, far enough ahead to stay its next.
key="$(DATABASE_URL="sqlite://$work/rbn.sqlite3" "$root/target/debug/rbn" keys create --role admin --name "browser tests")"
network="$(curl -fsS "$base/v1/networks/kreis-mettmann" | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')"
curl -fsS -o /dev/null -X POST "$base/v1/meetings" -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
  -d "{\"networkId\": \"$network\", \"name\": \"Bildungskonferenz 2099\", \"start\": \"2099-03-15T09:00:00+01:00\",
       \"end\": \"2099-03-15T16:00:00+01:00\", \"status\": \"planned\",
       \"location\": {\"address\": {\"street\": \"Düsseldorfer Straße 26\", \"postalCode\": \"40822\", \"city\": \"Mettmann\"}}}"

echo "browser tests against $base ($(/usr/bin/chromium --version 2>/dev/null | head -1))"
RBN_BASE="$base" CHROMIUM=/usr/bin/chromium node --test --test-reporter=spec pages.test.mjs
