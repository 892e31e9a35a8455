#!/usr/bin/env python3
"""Rewrites the source lists in meson.build and tests/meson.build from the files there are.

Meson cannot glob, so every example, tool, benchmark and test source is named in a list;
CI fails when a list and the folders disagree (.ci/run, check_meson_lists). Run this after
adding or removing such a file:  python3 tools/meson_lists.py   (--check: only compare)."""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent


def replace_list(text, start, items, indent="  "):
    """Replaces the items of the list that opens with the line `start` (up to its `]`)."""
    pattern = re.compile(r"(^" + re.escape(start) + r"\n)(.*?)(^\s*\])", re.M | re.S)
    body = "".join(f"{indent}'{item}',\n" for item in items)
    new, count = pattern.subn(lambda m: m.group(1) + body + m.group(3), text, count=1)
    if count != 1:
        sys.exit(f"meson_lists: no list starting with {start!r}")
    return new


def main():
    check = "--check" in sys.argv[1:]
    changed = []
    top = ROOT / "meson.build"
    text = top.read_text()
    new = replace_list(text, "latent_examples = [", sorted(p.stem for p in (ROOT / "examples").glob("*.cpp")))
    new = replace_list(new, "latent_tools = [", sorted(p.stem for p in (ROOT / "tools").glob("*.cpp")))
    new = replace_list(new, "latent_benchmark_sources = [",
                       sorted(f"benchmarks/{p.name}" for p in (ROOT / "benchmarks").glob("*.cpp")))
    if new != text:
        changed.append(top)
        if not check:
            top.write_text(new)

    tests = ROOT / "tests" / "meson.build"
    text = tests.read_text()
    new = text
    for layer in re.findall(r"^  '([a-z]+)': \[", text, re.M):
        files = sorted(f"{layer}/{p.name}" for p in (ROOT / "tests" / layer).glob("*.cpp"))
        new = replace_list(new, f"  '{layer}': [", files, indent="    ")
    if new != text:
        changed.append(tests)
        if not check:
            tests.write_text(new)

    for path in changed:
        print(f"{'out of date' if check else 'updated'}: {path.relative_to(ROOT)}")
    return 1 if check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
