#!/usr/bin/env bash
# Contract fuzzing: starts the service (debug build, fresh seeded SQLite database, an admin key) and runs
# Schemathesis with every check against its /v1/openapi.json. Exits non-zero on any failure.
#   tests/contract/run.sh [--max-examples N]
set -euo pipefail
cd "$(dirname "$0")/../.."
max_examples="${2:-40}"
work="$(mktemp -d)"
venv="${RBN_CONTRACT_VENV:-${TMPDIR:-/tmp}/rbn-schemathesis-venv}"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

if [ ! -x "$venv/bin/schemathesis" ]; then
  # Hypothesis trips over an ast bug of CPython 3.11: prefer 3.12 or newer where there is one.
  python=""
  for candidate in python3.13 python3.12; do
    if "$candidate" -c 'import sys' >/dev/null 2>&1; then python="$candidate"; break; fi
  done
  if [ -z "$python" ] && command -v pyenv >/dev/null 2>&1; then
    version="$(pyenv versions --bare 2>/dev/null | grep -E '^3\.1[2-9]' | sort -V | tail -1 || true)"
    [ -n "$version" ] && python="$(pyenv root)/versions/$version/bin/python3"
  fi
  python="${python:-python3}"
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check schemathesis==4.32.5
fi
cargo build --quiet --locked
export DATABASE_URL="sqlite://$work/rbn.sqlite3" RUST_LOG=error RBN_LISTEN="127.0.0.1:$port"
# The fuzzer sends many invalid keys on purpose: do not lock it out.
export RBN_AUTH_FAILURE_LIMIT=1000000
key="$(target/debug/rbn keys create --role admin --name schemathesis 2>/dev/null)"
target/debug/rbn serve > "$work/service.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
cd tests/contract
"$venv/bin/schemathesis" run "http://127.0.0.1:$port/v1/openapi.json" \
  --header "Authorization: Bearer $key" \
  --checks all \
  --max-examples "$max_examples" \
  --workers 2 \
  --continue-on-failure \
  --seed 20261121
