#!/usr/bin/env python3
"""Groups the allocation stacks of the budget test by call site.

    AUGMENTER_ALLOC_TRACE=/tmp/alloc.txt swift test --filter grpcCheckStaysWithinTheAllocationBudget
    bench/alloc_sites.py /tmp/alloc.txt 200        # 200 = the counted calls (CheckAllocationTests)

Each allocation is attributed to its first frames outside libc, the Swift runtime and the
counter itself (symbolised with addr2line and swift demangle); prints allocations per call.
"""
import collections
import re
import subprocess
import sys


def main():
    path, calls = sys.argv[1], float(sys.argv[2])
    depth = int(sys.argv[3]) if len(sys.argv) > 3 else 4
    stacks, offsets, binary = [], set(), None
    for block in open(path).read().split("----\n")[1:]:
        frames = []
        for line in block.strip().split("\n"):
            match = re.match(r"(.*?)\((.*?)\)\[", line)
            if not match:
                continue
            module, inner = match.group(1), match.group(2)
            if module.endswith(".xctest") and inner.startswith("+"):
                binary = module
                offsets.add(inner[1:])
                frames.append(("test", inner[1:]))
            else:
                frames.append((module.split("/")[-1], inner.split("+")[0]))
        stacks.append(frames)
    offsets = sorted(offsets)
    names = {}
    if binary and offsets:
        out = subprocess.run(["addr2line", "-f", "-e", binary] + offsets, capture_output=True, text=True).stdout
        lines = out.split("\n")
        mangled = {offset: lines[2 * index] for index, offset in enumerate(offsets)}
        unique = sorted(set(mangled.values()))
        demangled = subprocess.run(
            ["swift", "demangle", "--simplified", "--compact"], input="\n".join(unique), capture_output=True, text=True
        ).stdout.split("\n")
        table = dict(zip(unique, demangled))
        names = {offset: table.get(name, name) for offset, name in mangled.items()}
    skipped_modules = ("libc.so", "libswiftCore.so")
    skipped_symbols = ("malloc", "calloc", "realloc", "posix_memalign", "aligned_alloc", "memalign", "record")
    sites = collections.Counter()
    for frames in stacks:
        key = []
        for module, symbol in frames:
            text = names.get(symbol, symbol) if module == "test" else f"{module}:{symbol}"
            if module.startswith(skipped_modules) or text.split(":")[-1] in skipped_symbols:
                continue
            key.append(text[:140])
            if len(key) >= depth:
                break
        sites["\n        <- ".join(key)] += 1
    for site, count in sites.most_common(40):
        print(f"{count / calls:6.2f}  {site}")


if __name__ == "__main__":
    main()
