#!/usr/bin/env python3
"""Turns the results of bench/scale.sh into its table: each read at 1× and 100× (or whatever factors ran),
the ratio of the latencies (target: at most 1.5×), and the full export's size, time and peak memory."""
import datetime
import os
import platform
import statistics
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


def median(rounds):
    """The median of each measure over the rounds, and the errors of all of them."""
    return (statistics.median(r[0] for r in rounds), statistics.median(r[1] for r in rounds),
            statistics.median(r[2] for r in rounds), sum(r[3] for r in rounds))


def main():
    results, seconds, connections, rounds = sys.argv[1:5]
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
            runs.setdefault(backend, {}).setdefault(name, {}).setdefault(factor, []).append(parse(value))
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")),
               platform.processor())
    print(f"Scale benchmark of {datetime.date.today().isoformat()} on {os.cpu_count()} cores ({cpu}), wrk over "
          f"loopback, {connections} connections, {seconds} s per scenario and factor, median of {rounds} rounds, read cache "
          f"off.\n")
    failures, tails = [], []
    factors = sorted({factor for scenarios in runs.values() for by in scenarios.values() for factor in by})
    small, large = factors[0], factors[-1]
    print(f"| backend | read | {small}× req/s | {small}× p50 ms | {small}× p99 ms | {large}× req/s | {large}× p50 ms "
          f"| {large}× p99 ms | p50 ratio | p99 ratio | target ≤{TARGET}× |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for backend, scenarios in runs.items():
        for name, label in LABELS.items():
            by_factor = scenarios.get(name, {})
            if small not in by_factor or large not in by_factor:
                continue
            (rps1, p50_1, p99_1, err1), (rps2, p50_2, p99_2, err2) = median(by_factor[small]), median(by_factor[large])
            r50, r99 = p50_2 / p50_1, p99_2 / p99_1
            verdict = ""
            if name in CHECKED:
                verdict = f"p50 {'✅' if r50 <= TARGET else '❌'} p99 {'✅' if r99 <= TARGET else '❌'}"
                if r50 > TARGET or err1 or err2:
                    failures.append(f"{backend} {name}")
                if r99 > TARGET:
                    tails.append(f"{backend} {name}")
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
    print("Median latency within the target everywhere." if not failures else "Targets missed: " + ", ".join(failures))
    if tails:
        print("p99 above 1.5× (the tail, most sensitive to the machine's other load): " + ", ".join(tails))


if __name__ == "__main__":
    main()
