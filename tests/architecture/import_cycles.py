#!/usr/bin/env python3
"""Fails when the modules of a source tree import each other in a cycle.

Usage: import_cycles.py [ROOT] (default src/http). Every .rs file under ROOT is one module; a module
depends on another when its code (not its tests) names a path into it: `super::x::…`, `crate::…::x::…`,
`self::x::…`, in `use` lines (with brace groups) and inline. A cycle among them is printed and exits 1;
`--graph` prints every module's dependencies as well.
"""
import os
import re
import sys

args = [a for a in sys.argv[1:] if not a.startswith("--")]
root = args[0] if args else "src/http"
show_graph = "--graph" in sys.argv
crate_root = root.split("src/", 1)[0] + "src"


def module_path(path):
    rel = os.path.relpath(path, crate_root)[:-3].split(os.sep)
    if rel[-1] in ("mod", "lib", "main"):
        rel = rel[:-1]
    return tuple(rel)


modules = {}
for directory, _, files in os.walk(root):
    for name in files:
        if name.endswith(".rs"):
            path = os.path.join(directory, name)
            modules[module_path(path)] = path


def code_of(path):
    text = open(path, encoding="utf-8").read()
    # The module's tests may use anything.
    text = re.split(r"#\[cfg\(test\)\]\s*mod ", text)[0]
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r'"(\\.|[^"\\])*"', '""', text)
    return text


def expand(prefix, body):
    """`a::{b, c::{d, e}}` → a::b, a::c::d, a::c::e (one path per leaf)."""
    out, depth, part = [], 0, ""
    for ch in body + ",":
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == "," and depth == 0:
            part = part.strip()
            if part:
                m = re.match(r"^([\w:]*?)::\{(.*)\}$", part, re.S)
                if m:
                    out += expand(prefix + "::" + m.group(1), m.group(2))
                else:
                    out.append(prefix + "::" + part)
            part = ""
        else:
            part += ch
    return out


def paths_in(code):
    found = []
    for m in re.finditer(r"\buse\s+((?:crate|super|self)(?:::\w+)*)::\{(.*?)\};", code, re.S):
        found += expand(m.group(1), m.group(2))
    code = re.sub(r"\buse\s+(?:crate|super|self)(?:::\w+)*::\{.*?\};", "", code, flags=re.S)
    found += re.findall(r"\b(?:crate|super|self)(?:::\w+)+", code)
    return found


def resolve(me, path):
    """The module a path names: the longest prefix of it that is one of ours."""
    parts = [p.strip() for p in path.split("::")]
    if parts[0] == "crate":
        base, parts = [], parts[1:]
    elif parts[0] == "self":
        base, parts = list(me), parts[1:]
    else:
        # Each `super` goes one module up (a mod.rs file is its directory's module).
        ups = 0
        while parts and parts[0] == "super":
            ups, parts = ups + 1, parts[1:]
        base = list(me)[: len(me) - ups]
    best = None
    for i in range(len(parts) + 1):
        if tuple(base + parts[:i]) in modules:
            best = tuple(base + parts[:i])
    return best


graph = {}
for me, path in modules.items():
    deps = set()
    for used in paths_in(code_of(path)):
        target = resolve(me, used)
        # A module may use its own items and its descendants' (it declares them).
        if target and target != me and target[: len(me)] != me:
            deps.add(target)
    graph[me] = deps

index, low, stack, on_stack, cycles, counter = {}, {}, [], set(), [], [0]


def connect(v):
    index[v] = low[v] = counter[0]
    counter[0] += 1
    stack.append(v)
    on_stack.add(v)
    for w in graph[v]:
        if w not in index:
            connect(w)
            low[v] = min(low[v], low[w])
        elif w in on_stack:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        component = []
        while True:
            w = stack.pop()
            on_stack.discard(w)
            component.append(w)
            if w == v:
                break
        if len(component) > 1 or v in graph[v]:
            cycles.append(component)


sys.setrecursionlimit(10000)
for v in sorted(graph):
    if v not in index:
        connect(v)

name = lambda m: "::".join(m)
if show_graph:
    for m in sorted(graph):
        print(f"{name(m)} -> {', '.join(sorted(name(d) for d in graph[m]))}")
if cycles:
    for component in cycles:
        members = set(component)
        print("import cycle among: " + ", ".join(sorted(name(m) for m in members)))
        for m in sorted(members):
            inside = sorted(name(d) for d in graph[m] if d in members)
            print(f"  {name(m)} -> {', '.join(inside)}")
    sys.exit(1)
print(f"no import cycles among the {len(graph)} modules of {root}")
