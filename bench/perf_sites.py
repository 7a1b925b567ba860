#!/usr/bin/env python3
"""Aggregates allocation call stacks (bench/profile) into call sites per check.

    perf script -F ip,sym,dso -i malloc.data | perf_sites.py CHECKS

Input: `perf script` of uprobes on libc's malloc, calloc, realloc, posix_memalign and
aligned_alloc, with call graphs, Swift symbols still mangled (demangling every frame of a
million stacks is what makes this slow; only the reported names are demangled, at the end).
For every allocation call it walks the stack from the allocator outwards and counts:
  - the first frame outside libc and the Swift runtime libraries (the "site": often a stdlib,
    NIO or SwiftProtobuf generic specialised into augmenter, or libnghttp2), and
  - the first frame in Augmenter's own modules (HTTP2, AugmenterServer, AugmenterCore, EnvoyAPI,
    recognised by their mangled module names),
and prints both with calls per check.
"""
import collections
import re
import subprocess
import sys

RUNTIME = ("libc.so", "libswiftCore.so", "libstdc++", "libswift_Concurrency", "libdispatch", "libFoundation", "[unknown]")
OWN = re.compile(r"(5HTTP2|15AugmenterServer|13AugmenterCore|8EnvoyAPI)(?=[0-9A-Z_])")
FRAME = re.compile(r"^\s*[0-9a-f]+\s+(\S+?)(?:\+0x[0-9a-f]+)?\s+\((.*)\)\s*$")


def main():
    checks = int(sys.argv[1])
    sites, own, samples = collections.Counter(), collections.Counter(), 0
    stack = []

    def flush():
        nonlocal samples
        if not stack:
            return
        samples += 1
        site = next((f"{s}  [{dso.rsplit('/', 1)[-1]}]" for s, dso in stack if not any(r in dso for r in RUNTIME)), "(runtime or libc only)")
        mine = next((s for s, _ in stack if OWN.search(s)), "(no Augmenter frame on the stack)")
        sites[site] += 1
        own[mine] += 1
        stack.clear()

    for line in sys.stdin:
        match = FRAME.match(line)
        if match:
            stack.append((match.group(1), match.group(2)))
        else:
            flush()
    flush()

    top = [(t, c.most_common(35)) for t, c in (("first frame outside libc and the Swift runtime", sites), ("first frame in Augmenter's modules", own))]
    names = sorted({name.split("  [")[0] for _, rows in top for name, _ in rows})
    demangled = subprocess.run(["swift", "demangle", "--simplified"], input="\n".join(names), capture_output=True, text=True).stdout.splitlines()
    pretty = dict(zip(names, demangled)) if len(demangled) == len(names) else {}

    def show(name):
        symbol, _, dso = name.partition("  [")
        text = pretty.get(symbol, symbol)
        text = text if len(text) <= 160 else text[:157] + "..."
        return text + (f"  [{dso}" if dso else "")

    print(f"{samples} allocation calls over {checks} checks = {samples / checks:.1f} per check (stacks: perf --call-graph fp)\n")
    for title, rows in top:
        print(f"## by {title} (calls per check)")
        for name, count in rows:
            print(f"{count / checks:8.2f}  {show(name)}")
        print()


if __name__ == "__main__":
    main()
