#!/usr/bin/env python3
"""Turns seccomp/NAME.list files into a C header of SandboxRule arrays (src/daemon/sandbox.c).

Usage: gen-lists.py OUTPUT NAME=LIST[+LIST...] [NAME=...]
Each NAME becomes the union of its lists as `static const SandboxRule seccomp_NAME[]`,
ended by a rule whose name is NULL. A line of a list ('#' starts a comment) is one of
    NAME                 allowed, whatever the arguments
    NAME argN == EXPR    allowed when argument N equals EXPR (a C constant expression)
    NAME argN & (MASK) == EXPR
                         allowed when argument N, masked with MASK, equals EXPR
    NAME errno ERRNO     fails with ERRNO instead of killing the process
    NAME errno 0         does not run, and returns 0 as if it had succeeded
A condition and an errno may be combined (NAME argN == EXPR errno 0): the errno then applies
only when the condition holds. Several conditional lines for one call mean any of them.
"""
import re
import sys

NAME = r"[a-z0-9_]+"
LINE = re.compile(rf"({NAME})(?:\s+arg([0-5])(?:\s+&\s+(\([^)]*\)))?\s+==\s+(.+?))?(?:\s+errno\s+(E[A-Z0-9]+|0))?")


def parse(path):
    rules = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            m = LINE.fullmatch(line)
            if not m:
                sys.exit(f"{path}:{n}: not a rule: {line!r}")
            name, arg, mask, expr, err = m.groups()
            # The action: -1 runs the call; an errno (0 too) answers it without running it.
            err = err or "-1"
            if arg is not None:
                rule = (name, arg, mask or "~0", expr, err)
            else:
                rule = (name, "-1", "0", "0", err)
            rules.append((path, n, rule))
    return rules


def main():
    out, pairs = sys.argv[1], sys.argv[2:]
    lines = ["/* Generated from seccomp/NAME.list by seccomp/gen-lists.py: do not edit. */", "#pragma once", ""]
    for pair in pairs:
        name, paths = pair.split("=", 1)
        seen = {}
        body = []
        for path in paths.split("+"):
            for where, n, rule in parse(path):
                call, conditional = rule[0], rule[1] != "-1"
                if call in seen and not (conditional and seen[call]):
                    sys.exit(f"{where}:{n}: {call} is listed twice")
                seen[call] = conditional
                body.append("    { \"%s\", %s, (uint64_t)(%s), (uint64_t)(%s), %s }," % rule)
        lines.append(f"static const SandboxRule seccomp_{name}[] = {{")
        lines += body
        lines += ["    { NULL, -1, 0, 0, -1 },", "};", ""]
    with open(out, "w") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    main()
