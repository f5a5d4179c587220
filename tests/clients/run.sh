#!/usr/bin/env bash
# Generated clients, used unchanged, against the running service:
# - openapi-python-client (PyPI) generates `rbn_client` from openapi/openapi.json; every module imports and
#   python/scenario.py (paging, expand, PATCH/PUT/DELETE with If-Match, problems, change feed) passes;
# - openapi-typescript + openapi-fetch (npm): typescript/usage.ts type-checks with tsc --noEmit.
# The service runs on a free port with a temporary SQLite database, the seed and an admin key made by
# `rbn keys create`. RBN_CLIENTS_VENV names the Python venv to use (created when missing).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
work="$(mktemp -d)"
venv="${RBN_CLIENTS_VENV:-$work/venv}"
service=""
cleanup() {
  if [ -n "$service" ]; then kill "$service" 2>/dev/null || true; wait "$service" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "-- build rbn"
cargo build --locked --quiet
rbn="$root/target/debug/rbn"
export DATABASE_URL="sqlite://$work/rbn.sqlite3" RBN_SEED=true RUST_LOG=warn
key="$("$rbn" keys create --role admin --name "generated clients")"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
export RBN_LISTEN="127.0.0.1:$port"
"$rbn" serve &
service=$!
for _ in $(seq 1 100); do "$rbn" healthcheck >/dev/null 2>&1 && break; sleep 0.1; done
"$rbn" healthcheck

echo "-- openapi-python-client"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "openapi-python-client==0.29.1"
printf 'post_hooks: []\n' >"$work/generator.yaml"
(cd "$work" && "$venv/bin/openapi-python-client" generate --path "$root/openapi/openapi.json" --meta none \
  --output-path rbn_client --config "$work/generator.yaml" --fail-on-warning)
"$venv/bin/python" - "$work" <<'PY'
import importlib, pkgutil, sys
sys.path.insert(0, sys.argv[1])
import rbn_client
failed = []
names = [m.name for m in pkgutil.walk_packages(rbn_client.__path__, "rbn_client.")]
for name in names:
    try:
        importlib.import_module(name)
    except Exception as error:
        failed.append(f"{name}: {error!r}")
print("\n".join(failed), file=sys.stderr)
print(f"generated python client imports: {len(names) - len(failed)} passed, {len(failed)} failed")
sys.exit(1 if failed else 0)
PY
PYTHONPATH="$work" "$venv/bin/python" tests/clients/python/scenario.py "http://127.0.0.1:$port" "$key"

echo "-- openapi-typescript + openapi-fetch, tsc --noEmit"
cd tests/clients/typescript
npm ci --silent --no-audit --no-fund
npx --no-install openapi-typescript "$root/openapi/openapi.json" --output schema.d.ts
npx --no-install tsc --noEmit
echo "typescript client: usage.ts type-checks"
