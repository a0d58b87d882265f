#!/usr/bin/env python3
"""layers.py - the structure docs/design.md describes, checked on the build.

usage: tests/layers.py BUILD_DIR

1. Layers. Every source file of lib/ and src/ belongs to a layer (LAYERS
   below, the table of docs/design.md "Layers"). A file may include a header
   of, and call a function or use a variable defined in, its own folder or a
   layer below its own; never one above, nor a different folder of the same
   layer (those are independent of each other). Calls are read from the
   object files (nm): a symbol a file leaves undefined and another file of
   the program defines is a call from the first into the second.
   include/uzram.h is the library's interface: every file may include it, but
   the functions behind it (lib/uzram.c) are the facade's, callable only
   from above.
2. Cycles. The graph of calls between files has no cycle except the one the
   kernel has too: zram_drv.c <-> writeback.c (drivers/block/zram/zram_drv.c
   holds both; the device reads through the backing device, writeback reads
   slots through the device).
3. Length. No function is longer than MAX_LINES, except the codecs' hot
   loops (HOT_LOOPS); the median stays under MEDIAN_MAX. Needs Universal
   Ctags (Debian: universal-ctags); without it the check is skipped (77).

Prints every violation and exits 1, or prints a summary and exits 0.
"""
import os
import re
import shutil
import statistics
import subprocess
import sys

# (path prefix, rank, name). The longest prefix wins; rank grows upwards.
LAYERS = [
    ("lib/util/", 0, "util"),
    ("lib/lzo/", 1, "lzo"),
    ("lib/842/", 1, "842"),
    ("lib/zcomp/", 2, "zcomp"),
    ("lib/zsmalloc/", 2, "zsmalloc"),
    ("lib/zram/", 3, "zram"),
    ("lib/", 4, "facade"),
    ("include/", 4, "facade"),
    ("src/", 5, "cli-common"),        # src/*.c, src/*.h but main.c
    ("src/nbd/", 6, "nbd"),
    ("src/fuse/", 6, "fuse"),
    ("src/ublk/", 6, "ublk"),
    ("src/control/", 6, "control"),
    ("src/metrics/", 6, "metrics"),
    ("src/serve/", 7, "serve"),
    ("src/ctl/", 7, "ctl"),
    ("src/tools/", 7, "tools"),
    ("src/main.c", 8, "main"),
]
ALLOWED_CYCLES = [{"lib/zram/zram_drv.c", "lib/zram/writeback.c"}]
MAX_LINES = 80
MEDIAN_MAX = 15
HOT_LOOPS = {
    "lib/lzo/lzo1x_compress.c": {"lzo_block_compress"},
    "lib/lzo/lzo1x_decompress.c": {"uz_lzo1x_decompress_safe"},
    "lib/842/sw842.c": {"uz_sw842_decompress", "uz_sw842_compress"},
}


def layer(path):
    best = None
    for prefix, rank, name in LAYERS:
        if path.startswith(prefix) and (best is None or len(prefix) > len(best[0])):
            best = (prefix, rank, name)
    return best


def may_use(user, used):
    """May file `user` include or call into file `used`?"""
    if used == "include/uzram.h":
        return True
    lu, ld = layer(user), layer(used)
    if os.path.dirname(user) == os.path.dirname(used):
        return True
    if lu is None or ld is None:
        return True
    return ld[1] < lu[1]


def sources():
    out = []
    for top in ("lib", "src", "include"):
        for d, _, files in os.walk(top):
            out += [os.path.join(d, f) for f in files if f.endswith((".c", ".h"))]
    return sorted(out)


def check_includes(files, errors):
    inc = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
    for f in files:
        with open(f, encoding="utf-8") as fh:
            text = fh.read()
        for h in inc.findall(text):
            cands = [os.path.normpath(os.path.join(os.path.dirname(f), h)),
                     os.path.join("include", h), os.path.join("lib", h),
                     os.path.join("src", h)]
            target = next((c for c in cands if os.path.isfile(c)), None)
            if target and not may_use(f, target):
                errors.append(f"{f} includes {target}: a higher layer "
                              f"({layer(target)[2]} above or beside {layer(f)[2]})")


def nm(obj, args):
    out = subprocess.run(["nm", "-P"] + args + [obj], capture_output=True,
                         text=True, check=True).stdout
    return [line.split() for line in out.splitlines() if line.strip()]


def call_graph(build):
    objs = {}
    for top in ("lib", "src"):
        for d, _, files in os.walk(os.path.join(build, top)):
            for f in files:
                o = os.path.join(d, f)
                src = os.path.relpath(o, build)[:-2] + ".c"
                if f.endswith(".o") and os.path.isfile(src):   # not a stale one
                    objs[src] = o
    defined, undefined = {}, {}
    for src, o in objs.items():
        for parts in nm(o, ["--defined-only"]):
            if len(parts) >= 2 and parts[1] in "TDBRVW" and parts[1].isupper():
                defined.setdefault(parts[0], src)
        undefined[src] = {p[0] for p in nm(o, ["-u"]) if p}
    edges = {}
    for src, syms in undefined.items():
        for s in syms:
            d = defined.get(s)
            if d and d != src:
                edges.setdefault(src, {}).setdefault(d, set()).add(s)
    return objs, edges


def check_calls(edges, errors):
    for user, targets in sorted(edges.items()):
        for used, syms in sorted(targets.items()):
            if not may_use(user, used):
                errors.append(f"{user} calls into {used} ({', '.join(sorted(syms)[:4])}):"
                              f" a higher layer ({layer(used)[2]} above or beside {layer(user)[2]})")


def sccs(nodes, edges):
    """Tarjan's strongly connected components."""
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            out.append(comp)

    sys.setrecursionlimit(10000)
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return [c for c in out if len(c) > 1]


def check_cycles(objs, edges, errors):
    for comp in sccs(set(objs), edges):
        if comp not in ALLOWED_CYCLES:
            ties = [f"{a} -> {b} ({', '.join(sorted(edges[a][b])[:3])})"
                    for a in sorted(comp) for b in sorted(edges.get(a, {})) if b in comp]
            errors.append("cycle between files: " + "; ".join(ties))


def check_lengths(files, errors):
    ctags = shutil.which("ctags-universal") or shutil.which("ctags")
    if not ctags:
        return None
    out = subprocess.run([ctags, "--c-kinds=f", "--fields=+ne", "-f", "-"]
                         + [f for f in files if f.endswith(".c")],
                         capture_output=True, text=True)
    if out.returncode != 0 or "end:" not in out.stdout:
        return None
    lengths = []
    for line in out.stdout.splitlines():
        parts = line.split("\t")
        fields = dict(p.split(":", 1) for p in parts[3:] if ":" in p)
        if "line" not in fields or "end" not in fields:
            continue
        n = int(fields["end"]) - int(fields["line"]) + 1
        lengths.append(n)
        if n > MAX_LINES and parts[0] not in HOT_LOOPS.get(parts[1], ()):
            errors.append(f"{parts[1]}: {parts[0]}() is {n} lines (at most {MAX_LINES})")
    med = statistics.median(lengths)
    if med > MEDIAN_MAX:
        errors.append(f"median function length {med} lines (at most {MEDIAN_MAX})")
    return len(lengths), med, max(lengths)


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build/default"
    files = sources()
    errors = []
    check_includes(files, errors)
    objs, edges = call_graph(build)
    if not objs:
        print(f"SKIP: no object files under {build}/lib, {build}/src (build first)")
        return 77
    check_calls(edges, errors)
    check_cycles(objs, edges, errors)
    lengths = check_lengths(files, errors)
    for e in errors:
        print(e)
    if errors:
        return 1
    nedges = sum(len(t) for t in edges.values())
    print(f"{len(files)} files, {len(objs)} objects, {nedges} call edges between files: "
          f"no upward include or call, no cycle but zram_drv.c <-> writeback.c")
    if lengths is None:
        print("SKIP: no Universal Ctags (Debian: universal-ctags): function lengths not checked")
        return 77
    print(f"{lengths[0]} functions: median {lengths[1]} lines, longest {lengths[2]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
