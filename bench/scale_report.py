#!/usr/bin/env python3
"""Turns the results of bench/scale.sh into its table: each read at 1× and 100× (or whatever factors ran),
the ratio of the latencies (target: at most 1.5×), and the full export's size, time and peak memory."""
import datetime
import os
import platform
import sys

from report import parse

TARGET = 1.5
LABELS = {
    "healthz": "/healthz (HTTP stack alone)",
    "networks": "list page: /v1/networks?limit=50",
    "contacts": "list page: /v1/contacts?limit=50",
    "contacts-key": "list page: /v1/contacts?limit=50, admin key",
    "nested": "nested list: /v1/networks/{slug}/contacts?limit=5",
    "since": "modifiedSince poll: /v1/contacts?modifiedSince=<recent>",
    "changes-resume": "change feed: /v1/changes?cursor=<recent>",
    "changes-start": "change feed from the beginning: /v1/changes?limit=50",
}
CHECKED = {"networks", "contacts", "contacts-key", "nested", "since", "changes-resume", "changes-start"}


def main():
    results, seconds, connections = sys.argv[1], sys.argv[2], sys.argv[3]
    runs, exports, loads = {}, {}, {}
    for line in open(results, encoding="utf-8"):
        backend, factor, name, value = line.rstrip("\n").split("\t")
        factor = int(factor)
        if name == "export":
            before, after, size, took = value.split()
            exports[(backend, factor)] = (int(before) / 1024, int(after) / 1024, int(size), float(took))
        elif name == "load":
            loads[(backend, factor)] = int(value) / 1000
        else:
            runs.setdefault(backend, {}).setdefault(name, {})[factor] = parse(value)
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")),
               platform.processor())
    print(f"Scale benchmark of {datetime.date.today().isoformat()} on {os.cpu_count()} cores ({cpu}), wrk over "
          f"loopback, {connections} connections, {seconds} s per scenario, read cache off.\n")
    failures = []
    print("| backend | read | 1× req/s | 1× p50 ms | 1× p99 ms | 100× req/s | 100× p50 ms | 100× p99 ms "
          "| p50 ratio | p99 ratio | target ≤1.5× |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for backend, scenarios in runs.items():
        for name, label in LABELS.items():
            by_factor = scenarios.get(name, {})
            if len(by_factor) < 2:
                continue
            small, large = min(by_factor), max(by_factor)
            (rps1, p50_1, p99_1, err1, _), (rps2, p50_2, p99_2, err2, _) = by_factor[small], by_factor[large]
            r50, r99 = p50_2 / p50_1, p99_2 / p99_1
            verdict = ""
            if name in CHECKED:
                ok = r50 <= TARGET and r99 <= TARGET and not err1 and not err2
                verdict = "✅" if ok else "❌"
                if not ok:
                    failures.append(f"{backend} {name}")
            errors = " errors ❌" if err1 or err2 else ""
            print(f"| {backend} | {label} | {rps1:,.0f} | {p50_1:.2f} | {p99_1:.2f} | {rps2:,.0f} | {p50_2:.2f} "
                  f"| {p99_2:.2f} | {r50:.2f}× | {r99:.2f}× | {verdict}{errors} |")
    print()
    print("| backend | factor | records loaded in | export size | export time | peak RSS before | peak RSS after export |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for (backend, factor), (before, after, size, took) in sorted(exports.items()):
        load = loads.get((backend, factor))
        print(f"| {backend} | {factor}× | {load:.0f} s | {size / 1e6:.1f} MB | {took:.2f} s | {before:.1f} MB "
              f"| {after:.1f} MB |")
    print()
    print("All targets met." if not failures else "Targets missed: " + ", ".join(failures))


if __name__ == "__main__":
    main()
