#!/usr/bin/env bash
# The benchmark: builds the release binary, loads a realistic dataset (bench/dataset.py: a network for each
# of the 53 regions with contracts, bodies and contacts) and drives the service over loopback with wrk,
# on SQLite and on PostgreSQL. The pages (the map at / and a network's page) are measured against nginx
# serving the same bytes from files in the same run, and the gzip-compressed reads (the expanded network,
# the dataset export; wrk sends Accept-Encoding: gzip) against nginx serving the same gzip bytes with
# gzip_static. Prints a table and writes it to bench/results/latest.md.
#
#   bench/run.sh                     # both backends, 10 s per scenario, 64 connections
#   BENCH_SECONDS=5 BENCH_BACKENDS=sqlite bench/run.sh
#   BENCH_SCENARIOS=patch bench/run.sh   # some scenarios only (and /healthz, which the ratios need)
#
# PostgreSQL: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres) must allow CREATE
# DATABASE; the benchmark's database is created and dropped.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${BENCH_SECONDS:-10}"
connections="${BENCH_CONNECTIONS:-64}"
backends="${BENCH_BACKENDS:-sqlite postgres}"
scenarios="${BENCH_SCENARIOS:-expanded list revalidation map page expanded-gzip export-gzip patch}"
for scenario in $scenarios; do
  case "$scenario" in
    healthz|expanded|list|revalidation|map|page|expanded-gzip|export-gzip|patch) ;;
    *) echo "unknown scenario $scenario (expanded list revalidation map page expanded-gzip export-gzip patch)" >&2; exit 2 ;;
  esac
done
wanted() { [ "$1" = healthz ] || [[ " $scenarios " == *" $1 "* ]]; }
admin_url="${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
work="$(mktemp -d)"
mkdir -p bench/results
server_pid=""
pg_db=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null && wait "$nginx_pid" 2>/dev/null || true
  [ -n "$pg_db" ] && psql "$admin_url" -qc "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

for tool in wrk nginx; do
  if ! command -v "$tool" >/dev/null && [ ! -x "/usr/sbin/$tool" ]; then
    echo "installing $tool (Debian package)" >&2
    apt-get install -y "$tool" >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y "$tool" >/dev/null; }
  fi
done
nginx_bin="$(command -v nginx || echo /usr/sbin/nginx)"
nginx_pid=""
cargo build --release --locked --quiet
rbn="$PWD/target/release/rbn"
python3 bench/dataset.py > "$work/dataset.json"

results="$work/results.tsv"
: > "$results"
for backend in $backends; do
  case "$backend" in
    sqlite) url="sqlite://$work/bench.sqlite3" ;;
    postgres)
      pg_db="rbn_bench_$$"
      psql "$admin_url" -qc "CREATE DATABASE $pg_db"
      url="${admin_url%/*}/$pg_db" ;;
    *) echo "unknown backend $backend" >&2; exit 2 ;;
  esac
  export DATABASE_URL="$url" RBN_SEED=false RUST_LOG=warn
  "$rbn" import "$work/dataset.json" 2>/dev/null
  RBN_BENCH_KEY="$("$rbn" keys create --role admin --name benchmark 2>/dev/null)"
  export RBN_BENCH_KEY
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  base="http://127.0.0.1:$port"
  RBN_LISTEN="127.0.0.1:$port" "$rbn" serve 2>"$work/$backend.log" &
  server_pid=$!
  for _ in $(seq 1 100); do curl -fsS "$base/readyz" >/dev/null 2>&1 && break; sleep 0.1; done

  expanded="/v1/networks/netzwerk-05158?expand=contracts,bodies,handlungsfelder,contacts"
  etag="$(curl -fsS -D - -o /dev/null "$base$expanded" | tr -d '\r' | awk 'tolower($1)=="etag:" {print $2}')"
  contacts=$(curl -fsS -H "Authorization: Bearer $RBN_BENCH_KEY" "$base/v1/contacts?limit=$connections" |
    python3 -c 'import json,sys; print(" ".join("/v1/contacts/" + c["id"] for c in json.load(sys.stdin)["data"]))')

  run() { # name, then wrk arguments; nginx-NAME runs with NAME
    local name="$1"; shift
    wanted "${name#nginx-}" || return 0
    wrk --latency -d "${seconds}s" "$@" > "$work/$backend-$name.txt" 2>&1
    printf '%s\t%s\t%s\n' "$backend" "$name" "$work/$backend-$name.txt" >> "$results"
  }
  wrk -t2 -c"$connections" -d2s "$base$expanded" >/dev/null 2>&1   # warm-up
  run healthz -t2 -c"$connections" "$base/healthz"
  run expanded -t2 -c"$connections" "$base$expanded"
  run list -t2 -c"$connections" "$base/v1/networks?limit=50"
  run revalidation -t2 -c"$connections" -H "If-None-Match: $etag" "$base$expanded"
  if wanted map || wanted page || wanted expanded-gzip || wanted export-gzip; then
    # The pages, and nginx serving the same bytes (fetched from the service) as static files; the gzip reads,
    # and nginx serving the service's gzip bytes next to the identity file (gzip_static).
    page="/netzwerke/netzwerk-05158"
    export_path="/v1/exports/dataset.json"
    www="$work/www-$backend"
    mkdir -p "$www/netzwerke" "$work/nginx-$backend"
    curl -fsS "$base/" -o "$www/index.html"
    curl -fsS "$base$page" -o "$www$page"
    curl -fsS "$base$expanded" -o "$www/expanded.json"
    curl -fsS -H 'Accept-Encoding: gzip' "$base$expanded" -o "$www/expanded.json.gz"
    curl -fsS "$base$export_path" -o "$www/dataset.json"
    curl -fsS -H 'Accept-Encoding: gzip' "$base$export_path" -o "$www/dataset.json.gz"
    for file in expanded dataset; do
      gzip -dc "$www/$file.json.gz" | cmp -s - "$www/$file.json" || { echo "the service's gzip of $file is not its bytes" >&2; exit 1; }
    done
    nginx_port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    cat > "$work/nginx-$backend/nginx.conf" <<NGINX
user root;
worker_processes 2;
pid $work/nginx-$backend/nginx.pid;
error_log $work/nginx-$backend/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  client_body_temp_path $work/nginx-$backend/body;
  proxy_temp_path $work/nginx-$backend/proxy;
  fastcgi_temp_path $work/nginx-$backend/fastcgi;
  uwsgi_temp_path $work/nginx-$backend/uwsgi;
  scgi_temp_path $work/nginx-$backend/scgi;
  default_type "text/html; charset=utf-8";
  types { application/json json; }
  gzip_static on;
  gzip_vary on;
  server { listen 127.0.0.1:$nginx_port; root $www; index index.html; }
}
NGINX
    "$nginx_bin" -p "$work/nginx-$backend" -c "$work/nginx-$backend/nginx.conf" -g 'daemon off;' &
    nginx_pid=$!
    nginx_base="http://127.0.0.1:$nginx_port"
    for _ in $(seq 1 50); do curl -fsS "$nginx_base/" >/dev/null 2>&1 && break; sleep 0.1; done
    cmp -s <(curl -fsS "$nginx_base$page") <(curl -fsS "$base$page") || { echo "nginx does not serve the page's bytes" >&2; exit 1; }
    gz='Accept-Encoding: gzip'
    for pair in "/expanded.json $expanded" "/dataset.json $export_path"; do
      read -r file path <<< "$pair"
      curl -fsS -H "$gz" -D "$work/nginx-gzip-headers" "$nginx_base$file" -o "$work/nginx-gzip-body"
      tr -d '\r' < "$work/nginx-gzip-headers" | grep -qi '^content-encoding: gzip$' \
        || { echo "nginx does not serve $file with gzip_static" >&2; exit 1; }
      cmp -s "$work/nginx-gzip-body" <(curl -fsS -H "$gz" "$base$path") \
        || { echo "nginx does not serve the service's gzip bytes of $path" >&2; exit 1; }
    done
    run map -t2 -c"$connections" "$base/"
    run nginx-map -t2 -c"$connections" "$nginx_base/"
    run page -t2 -c"$connections" "$base$page"
    run nginx-page -t2 -c"$connections" "$nginx_base$page"
    run expanded-gzip -t2 -c"$connections" -H "$gz" "$base$expanded"
    run nginx-expanded-gzip -t2 -c"$connections" -H "$gz" "$nginx_base/expanded.json"
    run export-gzip -t2 -c"$connections" -H "$gz" "$base$export_path"
    run nginx-export-gzip -t2 -c"$connections" -H "$gz" "$nginx_base/dataset.json"
    kill "$nginx_pid"; wait "$nginx_pid" 2>/dev/null || true; nginx_pid=""
  fi
  # shellcheck disable=SC2086
  run patch -t"$connections" -c"$connections" -s bench/patch.lua "$base" -- $contacts
  rss_kb="$(awk '/VmHWM/ {print $2}' "/proc/$server_pid/status")"
  printf '%s\trss\t%s\n' "$backend" "$rss_kb" >> "$results"
  # A write is visible to the next read: the benchmark's own last PATCH is what the service returns now.
  last="$(echo "$contacts" | awk '{print $1}')"
  if wanted patch; then
    curl -fsS -H "Authorization: Bearer $RBN_BENCH_KEY" "$base$last" | grep -q '"function":"Koordination [0-9]' \
      || { echo "the service does not return the benchmark's writes" >&2; exit 1; }
  fi
  kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""
  if [ "$backend" = postgres ]; then psql "$admin_url" -qc "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)"; pg_db=""; fi
done

python3 bench/report.py "$results" "$seconds" "$connections" | tee bench/results/latest.md
