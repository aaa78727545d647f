#!/usr/bin/env python3
"""Turns seccomp/NAME.list (one system call name a line, '#' comments) into a C header.

Usage: gen-lists.py OUTPUT NAME=LIST[+LIST...] [NAME=...]
Each NAME becomes the union of its lists as `static const char *const seccomp_NAME[]`, NULL-terminated.
"""
import re
import sys


def main():
    out, pairs = sys.argv[1], sys.argv[2:]
    lines = ["/* Generated from seccomp/NAME.list by seccomp/gen-lists.py: do not edit. */", "#pragma once", ""]
    for pair in pairs:
        name, paths = pair.split("=", 1)
        calls = []
        for path in paths.split("+"):
            with open(path) as f:
                for n, line in enumerate(f, 1):
                    line = line.split("#", 1)[0].strip()
                    if not line:
                        continue
                    if not re.fullmatch(r"[a-z0-9_]+", line):
                        sys.exit(f"{path}:{n}: not a system call name: {line!r}")
                    if line in calls:
                        sys.exit(f"{path}:{n}: {line} is listed twice")
                    calls.append(line)
        lines.append(f"static const char *const seccomp_{name}[] = {{")
        lines += [f'    "{c}",' for c in calls]
        lines += ["    NULL,", "};", ""]
    with open(out, "w") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    main()
