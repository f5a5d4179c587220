#!/usr/bin/env python3
"""Turns the wrk outputs listed in a results file into the benchmark table, with the targets checked."""
import datetime
import os
import platform
import re
import sys

UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}
TARGETS = {  # scenario: (minimum ratio to /healthz, maximum p99 in ms, minimum requests per second)
    "expanded": (0.50, 10.0, None),
    "list": (0.30, None, None),
    "revalidation": (0.70, None, None),
    "patch": (None, None, 1000.0),
}
# The pages are measured against nginx serving the same bytes in the same run: at least half its throughput;
# the gzip reads against nginx serving the same gzip bytes (gzip_static): at least 80 %.
VERSUS_NGINX = {
    "map": ("nginx-map", 0.50),
    "page": ("nginx-page", 0.50),
    "expanded-gzip": ("nginx-expanded-gzip", 0.80),
    "export-gzip": ("nginx-export-gzip", 0.80),
}
LABELS = {
    "healthz": "/healthz (HTTP stack alone)",
    "expanded": "network, expand=all four",
    "list": "list page of 50 networks",
    "revalidation": "revalidation answered 304",
    "patch": "PATCH with If-Match",
    "map": "page / (the map, HTML)",
    "nginx-map": "nginx, the same bytes as /",
    "page": "page /netzwerke/{slug} (HTML)",
    "nginx-page": "nginx, the same bytes as the network page",
    "expanded-gzip": "gzip-compressed expanded network read",
    "nginx-expanded-gzip": "nginx, the same gzip bytes (gzip_static)",
    "export-gzip": "dataset export (gzip)",
    "nginx-export-gzip": "nginx, the same gzip bytes as the export (gzip_static)",
}


def parse(path):
    text = open(path, encoding="utf-8").read()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    latency = {}
    for pct, value, unit in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", text, re.M):
        latency[pct] = float(value) * UNITS[unit]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    socket_errors = re.search(r"Socket errors: (.*)", text)
    return rps, latency.get("50"), latency.get("99"), int(errors.group(1)) if errors else 0, socket_errors


def main():
    results, seconds, connections = sys.argv[1], sys.argv[2], sys.argv[3]
    rows, rss, failures = {}, {}, []
    for line in open(results, encoding="utf-8"):
        backend, name, value = line.rstrip("\n").split("\t")
        if name == "rss":
            rss[backend] = int(value) / 1024
        else:
            rows.setdefault(backend, {})[name] = parse(value)
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
    print(f"Benchmark of {datetime.date.today().isoformat()} on {os.cpu_count()} cores ({cpu}), "
          f"wrk over loopback, {connections} connections, {seconds} s per scenario.\n")
    print("| backend | scenario | requests/s | vs /healthz | p50 ms | p99 ms | non-2xx/3xx | target |")
    print("|---|---|---:|---:|---:|---:|---:|---|")
    for backend, scenarios in rows.items():
        healthz = scenarios["healthz"][0]
        for name in ["healthz", "expanded", "list", "revalidation", "map", "nginx-map", "page", "nginx-page",
                     "expanded-gzip", "nginx-expanded-gzip", "export-gzip", "nginx-export-gzip", "patch"]:
            if name not in scenarios:
                continue
            rps, p50, p99, errors, _ = scenarios[name]
            ratio = rps / healthz
            verdict = []
            min_ratio, max_p99, min_rps = TARGETS.get(name, (None, None, None))
            if min_ratio is not None:
                verdict.append(f"≥{min_ratio:.0%} {'✅' if ratio >= min_ratio else '❌'}")
            if max_p99 is not None:
                verdict.append(f"p99<{max_p99:g}ms {'✅' if p99 is not None and p99 < max_p99 else '❌'}")
            if min_rps is not None:
                verdict.append(f"≥{min_rps:g}/s {'✅' if rps >= min_rps else '❌'}")
            if name in VERSUS_NGINX and VERSUS_NGINX[name][0] in scenarios:
                reference, minimum = VERSUS_NGINX[name]
                versus = rps / scenarios[reference][0]
                verdict.append(f"{versus:.0%} of nginx, ≥{minimum:.0%} {'✅' if versus >= minimum else '❌'}")
            if errors:
                verdict.append(f"errors ❌")
            if any("❌" in v for v in verdict):
                failures.append(f"{backend} {name}")
            ratio_text = "" if name in ("healthz", "patch") or name.startswith("nginx") else f"{ratio:.0%}"
            print(f"| {backend} | {LABELS[name]} | {rps:,.0f} | {ratio_text} | {p50:.2f} | {p99:.2f} | {errors} | {' '.join(verdict)} |")
        peak = rss.get(backend)
        if peak is not None:
            ok = peak < 100
            if not ok:
                failures.append(f"{backend} rss")
            print(f"| {backend} | peak RSS of the service | {peak:.1f} MB | | | | | <100 MB {'✅' if ok else '❌'} |")
    print()
    print("All targets met." if not failures else "Targets missed: " + ", ".join(failures))


if __name__ == "__main__":
    main()
