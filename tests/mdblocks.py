# SPDX-License-Identifier: MIT
"""The steps a Markdown page tells an operator to follow, read from the page itself
(tests/test_docs.py runs them), so that a page and the code cannot drift apart.

A step is an HTML comment on a line of its own, invisible in the rendered page, and for most
kinds the code block right after it (blank lines between are allowed):

    <!-- test SCENARIO: run on HOST... -->         the block is a shell script, run as root
    <!-- test SCENARIO: file PATH on HOST... -->   the block is the whole content of PATH
    <!-- test SCENARIO: expect on HOST -->        "$ COMMAND" lines, each followed by its output
    <!-- test SCENARIO: not run: WHY -->           the block is not run, and the test says why
    <!-- test SCENARIO: copy H:PATH to H:DIR/ [H:DIR/...] -->   a copy between hosts (no block)
    <!-- test SCENARIO: check NAME -->            a check of the test's own, at this point

A scenario is the steps of one name, in the order of the page.
"""

import re
from dataclasses import dataclass, field

MARKER = re.compile(r"^(\s*)<!-- test ([\w-]+): (.*?) -->\s*$")
WITH_BLOCK = ("run", "file", "expect", "not run")


@dataclass
class Step:
    page: str
    line: int  # of the marker, 1-based
    scenario: str
    kind: str  # run, file, expect, not run, copy, check
    hosts: list = field(default_factory=list)
    path: str = ""  # file: where; copy: the source
    targets: list = field(default_factory=list)  # copy: [(host, dir)]
    name: str = ""  # check: which; not run: why
    text: str = ""  # the block, dedented
    block_lines: range = range(0)

    def where(self):
        return f"{self.page}:{self.line}"


def _parse_marker(page, lineno, scenario, body):
    """A Step from a marker's body, without its block."""
    step = Step(page, lineno, scenario, "")
    m = re.fullmatch(r"run on ([\w -]+)", body)
    if m:
        step.kind, step.hosts = "run", m.group(1).split()
        return step
    m = re.fullmatch(r"file (/\S+) on ([\w -]+)", body)
    if m:
        step.kind, step.path, step.hosts = "file", m.group(1), m.group(2).split()
        return step
    m = re.fullmatch(r"expect on ([\w-]+)", body)
    if m:
        step.kind, step.hosts = "expect", [m.group(1)]
        return step
    m = re.fullmatch(r"not run: (.+)", body)
    if m:
        step.kind, step.name = "not run", m.group(1)
        return step
    m = re.fullmatch(r"copy ([\w-]+):(/\S+) to ((?:[\w-]+:/\S*/ ?)+)", body)
    if m:
        step.kind, step.hosts, step.path = "copy", [m.group(1)], m.group(2)
        step.targets = [tuple(t.split(":", 1)) for t in m.group(3).split()]
        return step
    m = re.fullmatch(r"check ([\w-]+)", body)
    if m:
        step.kind, step.name = "check", m.group(1)
        return step
    raise ValueError(f"{page}:{lineno}: a test marker I cannot read: {body!r}")


def _indent(line):
    return len(line) - len(line.lstrip(" "))


def read_steps(path, page=None):
    """Every Step of a Markdown file, in order; raises ValueError on a marker without its block."""
    page = page or path
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    steps, i = [], 0
    while i < len(lines):
        m = MARKER.match(lines[i])
        if not m:
            i += 1
            continue
        step = _parse_marker(page, i + 1, m.group(2), m.group(3))
        steps.append(step)
        i += 1
        if step.kind not in WITH_BLOCK:
            continue
        j = i
        while j < len(lines) and not lines[j].strip():
            j += 1
        want = _indent(lines[i - 1]) + 4
        if j >= len(lines) or _indent(lines[j]) < want or not lines[j].strip():
            raise ValueError(f"{step.where()}: the marker is not followed by a code block")
        start, end = j, j
        while end < len(lines) and (not lines[end].strip() or _indent(lines[end]) >= want):
            end += 1
        while end > start and not lines[end - 1].strip():
            end -= 1
        block = lines[start:end]
        cut = min(_indent(x) for x in block if x.strip())
        step.text = "\n".join(x[cut:] for x in block) + "\n"
        step.block_lines = range(start + 1, end + 1)
        i = end
    return steps


def unmarked_blocks(path, steps):
    """The line numbers of code lines (indented by 4 or more) that no step's block holds."""
    covered = set()
    for s in steps:
        covered.update(s.block_lines)
    with open(path, encoding="utf-8") as f:
        return [n for n, line in enumerate(f.read().splitlines(), 1)
                if line.strip() and _indent(line) >= 4 and n not in covered]


def expectations(text):
    """An expect block as [(command, expected output)]."""
    out = []
    for line in text.splitlines():
        if line.startswith("$ "):
            out.append([line[2:], []])
        elif out:
            out[-1][1].append(line)
        else:
            raise ValueError(f"output before any command: {line!r}")
    return [(cmd, "\n".join(lines)) for cmd, lines in out]
