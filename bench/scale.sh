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
# Both factors are served at once and measured in turn. Then each gets a fresh process (read cache on, as
# deployed) that downloads the full export once, stating its peak RSS (VmHWM) before and after. Prints
# the table of 100× against 1× (target: latency within 1.5×) and writes it to bench/results/scale.md.
#
#   bench/scale.sh                                   # both backends, 3 rounds of 4 s per scenario, 16 connections
#   BENCH_SECONDS=2 BENCH_ROUNDS=1 BENCH_BACKENDS=sqlite bench/scale.sh
#   BENCH_FACTORS="1 10 100" bench/scale.sh           # the ratio is of the largest factor to the smallest
#   BENCH_RBN=/path/to/rbn bench/scale.sh            # another build of the service (no cargo build)
#
# PostgreSQL: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres) must allow CREATE
# DATABASE; the benchmark's databases are created and dropped.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${BENCH_SECONDS:-4}"
rounds="${BENCH_ROUNDS:-3}"
connections="${BENCH_CONNECTIONS:-16}"
backends="${BENCH_BACKENDS:-sqlite postgres}"
factors="${BENCH_FACTORS:-1 100}"
admin_url="${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
work="$(mktemp -d)"
mkdir -p bench/results
pg_dbs=()
declare -A pid=()
cleanup() {
  for p in "${pid[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true; done
  for db in "${pg_dbs[@]}"; do psql "$admin_url" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true; done
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

start_server() { # factor, then extra environment assignments
  local factor="$1"; shift
  local port
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  base[$factor]="http://127.0.0.1:$port"
  env DATABASE_URL="${url[$factor]}" "$@" RBN_LISTEN="127.0.0.1:$port" "$rbn" serve 2>>"$work/server.log" &
  pid[$factor]=$!
  for _ in $(seq 1 200); do curl -fsS "${base[$factor]}/readyz" >/dev/null 2>&1 && return; sleep 0.1; done
  echo "the service did not start" >&2; cat "$work/server.log" >&2; exit 1
}
stop_servers() {
  for factor in "${!pid[@]}"; do kill "${pid[$factor]}"; wait "${pid[$factor]}" 2>/dev/null || true; done
  pid=()
}
peak_kb() { awk '/VmHWM/ {print $2}' "/proc/${pid[$1]}/status"; }

declare -A url base key mark resume
results="$work/results.tsv"
: > "$results"
for backend in $backends; do
  for factor in $factors; do
    case "$backend" in
      sqlite) url[$factor]="sqlite://$work/scale-$factor.sqlite3" ;;
      postgres)
        pg_dbs+=("rbn_scale_$$_$factor")
        psql "$admin_url" -qc "CREATE DATABASE rbn_scale_$$_$factor"
        url[$factor]="${admin_url%/*}/rbn_scale_$$_$factor" ;;
      *) echo "unknown backend $backend" >&2; exit 2 ;;
    esac
    export DATABASE_URL="${url[$factor]}" RBN_SEED=false RUST_LOG=warn
    loading=$(date +%s%N)
    "$rbn" migrate 2>/dev/null
    case "$backend" in
      sqlite) python3 bench/scale.py history "$factor" sqlite "$work/scale-$factor.sqlite3" ;;
      postgres) python3 bench/scale.py history "$factor" postgres | psql "$DATABASE_URL" -q -v ON_ERROR_STOP=1 >/dev/null ;;
    esac
    python3 bench/dataset.py "$factor" > "$work/dataset.json"
    "$rbn" import "$work/dataset.json" 2>/dev/null >/dev/null
    # PostgreSQL's autovacuum keeps the statistics of a database that grew over years; a bulk load needs
    # them gathered once. SQLite plans without statistics, as a deployed one does.
    if [ "$backend" = postgres ]; then psql "$DATABASE_URL" -qc "VACUUM ANALYZE" >/dev/null; fi
    printf '%s\t%s\tload\t%s\n' "$backend" "$factor" "$(( ($(date +%s%N) - loading) / 1000000 ))" >> "$results"
    key[$factor]="$("$rbn" keys create --role admin --name scale-benchmark 2>/dev/null)"
    start_server "$factor" RBN_READ_CACHE=false
    eval "$(python3 bench/scale.py writes "${base[$factor]}" "${key[$factor]}" "$factor")"   # recent_mark, recent_seq
    mark[$factor]="$recent_mark" resume[$factor]="$recent_seq"
  done

  # Each read on every factor in turn, `rounds` times, so that the machine's changing speed hits all of
  # them alike; the report takes the median of the rounds.
  run() { # name, path, then wrk arguments
    local name="$1" path="$2"; shift 2
    for round in $(seq 1 "$rounds"); do for factor in $factors; do
      local target="${path//@mark/${mark[$factor]}}"
      target="${target//@resume/${resume[$factor]}}"
      target="${target//@key/${key[$factor]}}"
      local args=()
      for arg in "$@"; do args+=("${arg//@key/${key[$factor]}}"); done
      local out="$work/$backend-$factor-$name-$round.txt"
      wrk --latency -t2 -c"$connections" -d"${seconds}s" "${args[@]}" "${base[$factor]}$target" > "$out" 2>&1
      printf '%s\t%s\t%s\t%s\n' "$backend" "$factor" "$name" "$out" >> "$results"
    done; done
  }
  for factor in $factors; do wrk -t2 -c"$connections" -d2s "${base[$factor]}/v1/contacts?limit=50" >/dev/null 2>&1; done
  run healthz "/healthz"
  run networks "/v1/networks?limit=50"
  run contacts "/v1/contacts?limit=50"
  run contacts-key "/v1/contacts?limit=50" -H "Authorization: Bearer @key"
  run nested "/v1/networks/netzwerk-05158/contacts?limit=5"
  run since "/v1/contacts?modifiedSince=@mark"
  run changes-resume "/v1/changes?cursor=@resume"
  run changes-start "/v1/changes?limit=50"
  stop_servers

  # The full export from a fresh process each, as deployed (read cache on): its peak memory.
  for factor in $factors; do
    start_server "$factor"
    before="$(peak_kb "$factor")"
    curl -fsS -o "$work/export.json" -w '%{size_download} %{time_total}\n' "${base[$factor]}/v1/exports/dataset.json" \
      > "$work/export.txt"
    after="$(peak_kb "$factor")"
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
    stop_servers
  done
  for db in "${pg_dbs[@]}"; do psql "$admin_url" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)"; done
  pg_dbs=()
  rm -f "$work"/scale-*.sqlite3*
done

python3 bench/scale_report.py "$results" "$seconds" "$connections" "$rounds" | tee bench/results/scale.md
