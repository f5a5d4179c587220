"""What the Compose Specification's schema cannot say about docker-compose.yml, and the build context.

Usage: policy.py compose FILE NGINX_CONF   -- the deployment rules below, for FILE
       policy.py context ROOT DEP_INFO [BUILT_IN]
                                            -- .dockerignore of ROOT keeps every file that cargo's dep-info
                                               DEP_INFO lists (of the checkout BUILT_IN, default ROOT),
                                               and none of the heavy or private ones
Exit 1 with one line per broken rule."""
import os
import re
import sys

problems = []


def rule(condition, message):
    if not condition:
        problems.append(message)


def seconds(text):
    """A compose duration (`40s`, `1m30s`) in seconds."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001, "us": 0.000001}
    total = 0.0
    for number, unit in re.findall(r"([0-9.]+)(h|ms|us|m|s)", str(text)):
        total += float(number) * units[unit]
    return total


def compose(path, nginx_conf):
    from ruamel.yaml import YAML

    with open(path, encoding="utf-8") as file:
        document = YAML(typ="safe").load(file)
    services = document.get("services") or {}
    declared_volumes = document.get("volumes") or {}
    for name, service in services.items():
        rule(service.get("restart") in ("always", "unless-stopped", "on-failure"), f"{name}: no restart policy")
        check = service.get("healthcheck") or {}
        rule(bool(check.get("test")) and not check.get("disable"), f"{name}: no health check")
        depends_on = service.get("depends_on") or {}
        rule(isinstance(depends_on, dict), f"{name}: depends_on without conditions")
        for other, dependency in depends_on.items() if isinstance(depends_on, dict) else []:
            rule(
                isinstance(dependency, dict) and dependency.get("condition") == "service_healthy",
                f"{name}: depends on {other} without condition service_healthy",
            )
    rbn = services.get("rbn")
    rule(rbn is not None, "no service rbn")
    if rbn:
        # `--scale rbn=3` starts three containers of it: a fixed host port or name would clash.
        rule(not rbn.get("ports"), "rbn publishes host ports: `--scale rbn=3` would clash; publish the proxy's")
        rule("container_name" not in rbn, "rbn has a container_name: it cannot be scaled")
        rule("8080" in [str(port) for port in rbn.get("expose") or []], "rbn does not expose 8080 to the proxy")
        test = " ".join(str(part) for part in (rbn.get("healthcheck") or {}).get("test") or [])
        rule("rbn healthcheck" in test, f"rbn's health check is not `rbn healthcheck`: {test}")
        environment = rbn.get("environment") or {}
        drain = float(environment.get("RBN_DRAIN_TIMEOUT", 30))
        grace = seconds(rbn.get("stop_grace_period", "10s"))
        rule(grace > drain, f"rbn: stop_grace_period {grace:g} s is not longer than RBN_DRAIN_TIMEOUT {drain:g} s")
    published = [name for name, service in services.items() if service.get("ports")]
    rule(published == ["proxy"], f"only the proxy publishes a port, not {published}")
    proxy = services.get("proxy") or {}
    rule(str(proxy.get("image", "")).startswith("nginx:"), "the proxy is not the official nginx image")
    mounts = [str(volume) for volume in proxy.get("volumes") or []]
    rule(any(m.startswith("./docker/nginx.conf:") for m in mounts), "the proxy does not mount docker/nginx.conf")
    with open(nginx_conf, encoding="utf-8") as file:
        config = file.read()
    rule("resolver 127.0.0.11" in config, "nginx does not ask Docker's DNS, so it would not find new replicas")
    rule(re.search(r"set \$\w+ http://rbn:8080;", config) is not None, "nginx does not resolve rbn:8080 per request")
    health = proxy.get("healthcheck") or {}
    rule("8081/health" in " ".join(map(str, health.get("test") or [])), "the proxy's health check is not its /health")
    postgres = services.get("postgres") or {}
    data = [str(v) for v in postgres.get("volumes") or [] if str(v).endswith(":/var/lib/postgresql/data")]
    rule(len(data) == 1, "PostgreSQL's data directory is not on a volume")
    for volume in data:
        source = volume.split(":")[0]
        rule(source in declared_volumes, f"PostgreSQL's volume {source} is not a named volume")


def context(root, dep_info, built_in=None):
    from docker.utils.build import exclude_paths

    with open(os.path.join(root, ".dockerignore"), encoding="utf-8") as file:
        patterns = [line.strip() for line in file if line.strip() and not line.startswith("#")]
    # docker-py's reading of .dockerignore, as `docker build` sends the context.
    included = set(exclude_paths(root, patterns, dockerfile="Dockerfile"))
    with open(dep_info, encoding="utf-8") as file:
        text = file.read().replace("\\\n", " ")
    _, _, inputs = text.partition(": ")
    needed = {"Cargo.toml", "Cargo.lock"}
    for path in inputs.split():
        path = os.path.relpath(path, os.path.abspath(built_in or root)) if os.path.isabs(path) else path
        if not path.startswith(".."):
            needed.add(path)
    for path in sorted(needed):
        rule(path in included, f"the build reads {path}, but .dockerignore leaves it out")
    heavy = ("target", ".git", "node_modules", "bench", "tests", "docs", "openapi")
    for path in sorted(included):
        parts = path.split("/")
        rule(
            parts[0] not in heavy and "node_modules" not in parts and ".sqlite3" not in path,
            f"{path} is in the build context",
        )
    size = sum(os.path.getsize(os.path.join(root, path)) for path in included if os.path.isfile(os.path.join(root, path)))
    rule(size < 20 * 1024 * 1024, f"the build context has {size / 1e6:.1f} MB")
    print(f"build context: {len(included)} files, {size / 1e6:.1f} MB; the build reads {len(needed)} files")


if __name__ == "__main__":
    {"compose": compose, "context": context}[sys.argv[1]](*sys.argv[2:])
    for problem in problems:
        print(f"policy: {problem}", file=sys.stderr)
    sys.exit(1 if problems else 0)
