#!/usr/bin/env bash
# The scale benchmark: the same reads at 1× and 100× the realistic records, on SQLite and PostgreSQL.
#
# Networks are bounded (one per region), but contacts, bodies, contracts, the change feed and the audit
# log grow for years. For each factor the benchmark loads `bench/dataset.py FACTOR` with `rbn import`
# (at 100×: 31,800 contacts, 21,200 bodies, 15,900 contracts) on top of a history written straight in SQL
# (`bench/scale.py history`: FACTOR × 10,000 change-feed and audit entries, a million at 100×, mostly
# tombstones of records deleted over five years), makes a few writes through the API (a mirror's recent
# `modifiedSince` mark), and drives the service with wrk. The service runs with RBN_READ_CACHE=false, so
# that every measured request reads the database (anonymous reads would otherwise come from the cache).
# Then it restarts the service (read cache on, as deployed) and downloads the full export once, stating
# the service's peak RSS (VmHWM) before and after. Prints the table of 100× against 1× (target: latency
# within 1.5×) and writes it to bench/results/scale.md.
#
#   bench/scale.sh                                   # both backends, 5 s per scenario, 16 connections
#   BENCH_SECONDS=3 BENCH_BACKENDS=sqlite bench/scale.sh
#   BENCH_RBN=/path/to/rbn bench/scale.sh            # another build of the service (no cargo build)
#
# PostgreSQL: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres) must allow CREATE
# DATABASE; the benchmark's databases are created and dropped.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${BENCH_SECONDS:-5}"
connections="${BENCH_CONNECTIONS:-16}"
backends="${BENCH_BACKENDS:-sqlite postgres}"
factors="${BENCH_FACTORS:-1 100}"
admin_url="${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
work="$(mktemp -d)"
mkdir -p bench/results
server_pid=""
pg_db=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  [ -n "$pg_db" ] && psql "$admin_url" -qc "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

if ! command -v wrk >/dev/null; then
  echo "installing wrk (Debian package)" >&2
  apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
fi
if [ -n "${BENCH_RBN:-}" ]; then
  rbn="$BENCH_RBN"
else
  cargo build --release --locked --quiet
  rbn="$PWD/target/release/rbn"
fi

start_server() { # extra environment assignments
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  base="http://127.0.0.1:$port"
  env "$@" RBN_LISTEN="127.0.0.1:$port" "$rbn" serve 2>>"$work/server.log" &
  server_pid=$!
  for _ in $(seq 1 200); do curl -fsS "$base/readyz" >/dev/null 2>&1 && return; sleep 0.1; done
  echo "the service did not start" >&2; cat "$work/server.log" >&2; exit 1
}
stop_server() {
  kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""
}
peak_kb() { awk '/VmHWM/ {print $2}' "/proc/$server_pid/status"; }

results="$work/results.tsv"
: > "$results"
for backend in $backends; do
  for factor in $factors; do
    case "$backend" in
      sqlite) rm -f "$work"/scale.sqlite3*; url="sqlite://$work/scale.sqlite3" ;;
      postgres)
        pg_db="rbn_scale_$$_$factor"
        psql "$admin_url" -qc "CREATE DATABASE $pg_db"
        url="${admin_url%/*}/$pg_db" ;;
      *) echo "unknown backend $backend" >&2; exit 2 ;;
    esac
    export DATABASE_URL="$url" RBN_SEED=false RUST_LOG=warn
    loading=$(date +%s%N)
    "$rbn" migrate 2>/dev/null
    case "$backend" in
      sqlite) python3 bench/scale.py history "$factor" sqlite "$work/scale.sqlite3" ;;
      postgres) python3 bench/scale.py history "$factor" postgres | psql "$url" -q -v ON_ERROR_STOP=1 >/dev/null ;;
    esac
    python3 bench/dataset.py "$factor" > "$work/dataset.json"
    "$rbn" import "$work/dataset.json" 2>/dev/null >/dev/null
    # PostgreSQL's autovacuum keeps the statistics of a database that grew over years; a bulk load needs
    # them gathered once. SQLite plans without statistics, as a deployed one does.
    [ "$backend" = postgres ] && psql "$url" -qc "VACUUM ANALYZE" >/dev/null
    printf '%s\t%s\tload\t%s\n' "$backend" "$factor" "$(( ($(date +%s%N) - loading) / 1000000 ))" >> "$results"
    key="$("$rbn" keys create --role admin --name scale-benchmark 2>/dev/null)"

    start_server RBN_READ_CACHE=false
    eval "$(python3 bench/scale.py writes "$base" "$key" "$factor")"   # sets mark and resume
    auth="Authorization: Bearer $key"
    run() { # name, then wrk arguments
      local name="$1"; shift
      wrk --latency -t2 -c"$connections" -d"${seconds}s" "$@" > "$work/$backend-$factor-$name.txt" 2>&1
      printf '%s\t%s\t%s\t%s\n' "$backend" "$factor" "$name" "$work/$backend-$factor-$name.txt" >> "$results"
    }
    wrk -t2 -c"$connections" -d2s "$base/v1/contacts?limit=50" >/dev/null 2>&1   # warm-up
    run healthz "$base/healthz"
    run networks "$base/v1/networks?limit=50"
    run contacts "$base/v1/contacts?limit=50"
    run contacts-key -H "$auth" "$base/v1/contacts?limit=50"
    run nested "$base/v1/networks/netzwerk-05158/contacts?limit=5"
    run since "$base/v1/contacts?modifiedSince=$mark"
    run changes-resume "$base/v1/changes?cursor=$resume"
    run changes-start "$base/v1/changes?limit=50"
    stop_server

    # The full export from a fresh process, as deployed (read cache on): its peak memory.
    start_server
    before="$(peak_kb)"
    curl -fsS -o "$work/export.json" -w '%{size_download} %{time_total}\n' "$base/v1/exports/dataset.json" > "$work/export.txt"
    after="$(peak_kb)"
    read -r bytes took < "$work/export.txt"
    python3 - "$work/export.json" "$factor" <<'PY'
import json, sys
dataset = json.load(open(sys.argv[1], encoding="utf-8"))
public = sum(len(dataset[s]) for s in ("handlungsfelder", "networks", "bodies", "contracts", "contacts"))
factor = int(sys.argv[2])
# Of each network's six contacts one is internal, not in the public export; the writes deleted one.
expected = 10 + 53 + 53 * factor * (3 + 4 + 5)
assert public in (expected, expected - 1), f"the export holds {public} records, not {expected}"
PY
    printf '%s\t%s\texport\t%s %s %s %s\n' "$backend" "$factor" "$before" "$after" "$bytes" "$took" >> "$results"
    stop_server
    if [ "$backend" = postgres ]; then psql "$admin_url" -qc "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)"; pg_db=""; fi
  done
done

python3 bench/scale_report.py "$results" "$seconds" "$connections" | tee bench/results/scale.md
