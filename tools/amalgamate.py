#!/usr/bin/env python3
"""Generate the single header single_include/latent/latent.hpp from include/latent/.

Starting at the umbrella include/latent/latent.hpp, every `#include "..."` of a library
header (and every `#include <latent/...>`) is replaced by that header's text, each header
once, in the order it is first needed, without its `#pragma once`. System includes
(`#include <vector>`) stay where they are; an unconditional one that already appeared
unconditionally is dropped, and conditional ones (`#include <omp.h>` inside `#if`) are
kept inside their `#if`.

A library header first reached inside an `#if` may be needed again later: such a header
is wrapped in an include guard at each place it is inlined, so the result behaves as the
`#pragma once` original did.

    python3 tools/amalgamate.py            write single_include/latent/latent.hpp
    python3 tools/amalgamate.py --check    exit 1 if the committed file is stale

Python 3 standard library only; the output depends on nothing but the headers.
"""

import argparse
import difflib
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INCLUDE_DIR = ROOT / "include"
UMBRELLA = INCLUDE_DIR / "latent" / "latent.hpp"
OUTPUT = ROOT / "single_include" / "latent" / "latent.hpp"
CONFIG = INCLUDE_DIR / "latent" / "core" / "config.hpp"

INCLUDE_RE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')
PRAGMA_ONCE_RE = re.compile(r"^\s*#\s*pragma\s+once\b")
IF_RE = re.compile(r"^\s*#\s*if(n?def)?\b")
ENDIF_RE = re.compile(r"^\s*#\s*endif\b")
VERSION_RE = re.compile(r'^#define LATENT_VERSION_STRING "([^"]+)"', re.MULTILINE)


class AmalgamateError(Exception):
    pass


def library_name(path):
    """include/latent/core/config.hpp -> latent/core/config.hpp"""
    return path.relative_to(INCLUDE_DIR).as_posix()


def guard_macro(path):
    name = re.sub(r"[^A-Za-z0-9]", "_", library_name(path)).upper()
    return "LATENT_AMALGAMATED_" + name


class Amalgamator:
    """One pass over the headers. `guarded` names the headers that need include guards."""

    def __init__(self, guarded):
        self.guarded = guarded
        self.inlined_unconditionally = set()
        self.reached_conditionally = set()
        self.system_unconditional = set()
        self.in_progress = []
        self.lines = []
        self.texts = {}

    def read(self, path):
        if path not in self.texts:
            self.texts[path] = path.read_text(encoding="utf-8").splitlines()
        return self.texts[path]

    def resolve(self, name, quoted, including_file):
        """The library header an include names, or None for a system header."""
        candidates = []
        if quoted:
            candidates.append(including_file.parent / name)
        if quoted or name.startswith("latent/"):
            candidates.append(INCLUDE_DIR / name)
        for candidate in candidates:
            if candidate.is_file():
                resolved = candidate.resolve()
                if INCLUDE_DIR / "latent" not in resolved.parents:
                    raise AmalgamateError(f"{library_name(including_file)}: #include "
                                          f"{name!r} is outside include/latent/")
                return resolved
        if quoted:
            raise AmalgamateError(f"{library_name(including_file)}: #include \"{name}\" "
                                  "not found")
        return None

    def include(self, path, depth):
        """Inline a library header at an include site nested `depth` #if's deep."""
        if path in self.inlined_unconditionally or path in self.in_progress:
            return
        if depth > 0:
            self.reached_conditionally.add(path)
        else:
            self.inlined_unconditionally.add(path)
        self.lines.append(f"// ---- {library_name(path)} ----")
        if path in self.guarded:
            macro = guard_macro(path)
            self.lines += [f"#ifndef {macro}", f"#define {macro}"]
            # The guard adds no condition: at this point the header's text is present,
            # whether from here or from an earlier copy.
            self.inline_text(path, depth)
            self.lines.append(f"#endif  // {macro}")
        else:
            self.inline_text(path, depth)

    def inline_text(self, path, depth):
        self.in_progress.append(path)
        local_depth = 0
        for number, line in enumerate(self.read(path), start=1):
            if PRAGMA_ONCE_RE.match(line):
                continue
            match = INCLUDE_RE.match(line)
            if match:
                quoted = match.group(1) == '"'
                target = self.resolve(match.group(2).strip(), quoted, path)
                if target is not None:
                    self.include(target, depth + local_depth)
                    continue
                if depth + local_depth == 0:
                    name = match.group(2).strip()
                    if name in self.system_unconditional:
                        continue
                    self.system_unconditional.add(name)
            elif IF_RE.match(line):
                local_depth += 1
            elif ENDIF_RE.match(line):
                local_depth -= 1
                if local_depth < 0:
                    raise AmalgamateError(f"{library_name(path)}:{number}: #endif without #if")
            self.lines.append(line.rstrip())
        if local_depth != 0:
            raise AmalgamateError(f"{library_name(path)}: {local_depth} #if left open")
        self.in_progress.pop()


def version():
    match = VERSION_RE.search(CONFIG.read_text(encoding="utf-8"))
    if not match:
        raise AmalgamateError("no LATENT_VERSION_STRING in include/latent/core/config.hpp")
    return match.group(1)


def squeeze_blank_lines(lines):
    out = []
    for line in lines:
        if line == "" and (not out or out[-1] == ""):
            continue
        out.append(line)
    while out and out[-1] == "":
        out.pop()
    return out


def amalgamate():
    """The single header's text."""
    guarded = set()
    while True:  # a guard can change what is reached where; stop when nothing changes
        pass_ = Amalgamator(guarded)
        pass_.include(UMBRELLA.resolve(), 0)
        if pass_.reached_conditionally <= guarded:
            break
        guarded = guarded | pass_.reached_conditionally
    banner = [
        f"// latent {version()}: the whole library in one header.",
        "// Generated by tools/amalgamate.py from include/latent/latent.hpp and the headers it",
        "// includes. Do not edit: change include/latent/ and run  python3 tools/amalgamate.py",
        "#pragma once",
        "",
    ]
    return "\n".join(banner + squeeze_blank_lines(pass_.lines)) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="compare with the committed file instead of writing it")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="where to write")
    args = parser.parse_args()
    try:
        text = amalgamate()
    except (AmalgamateError, OSError) as error:
        print(f"amalgamate: {error}", file=sys.stderr)
        return 2
    shown = args.output.resolve()
    shown = shown.relative_to(ROOT) if ROOT in shown.parents else shown
    if args.check:
        old = args.output.read_text(encoding="utf-8") if args.output.is_file() else ""
        if old == text:
            print(f"{shown} is up to date")
            return 0
        diff = list(difflib.unified_diff(old.splitlines(), text.splitlines(),
                                         "committed", "generated", lineterm="", n=1))
        print("\n".join(diff[:40]))
        if len(diff) > 40:
            print(f"... ({len(diff) - 40} more diff lines)")
        print(f"{shown} is stale: run  python3 tools/amalgamate.py", file=sys.stderr)
        return 1
    args.output.parent.mkdir(parents=True, exist_ok=True)
    with open(args.output, "w", encoding="utf-8", newline="\n") as out:
        out.write(text)
    print(f"wrote {shown} ({text.count(chr(10))} lines)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
