"""SQDIFF_TARGET=host, exercised: the black-box suite run against a live installation.

A SystemdBox gets the suite installed as in the systemd run (SQDIFF_DEB with apt, else
`meson install` of SQDIFF_BUILDDIR), on a free port; then `pytest tests/` runs INSIDE the
box, where PID 1 is systemd, with SQDIFF_TARGET=host and SQDIFF_URL at that port: what an
operator runs on a production machine. It must pass with the disruptive tests skipped
(SQDIFF_ALLOW_DISRUPTIVE unset), leave the units running, and have restarted nothing; then
again with SQDIFF_ALLOW_DISRUPTIVE=1, when the tests that stop, kill and signal units run too.

SQDIFF_TARGET=systemd only (the box sees this checkout and the host's python3 and pytest).
"""

import os
import re
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from conftest import BUILDDIR, TARGET  # noqa: E402

pytestmark = pytest.mark.skipif(TARGET != "systemd", reason="boots its own systemd box (SQDIFF_TARGET=systemd)")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
UNITS = ("sqdiff-httpd.service", "sqdiff-worker@sum.service", "sqdiff-worker@square.service")


@pytest.fixture(scope="module")
def installed():
    from systemd_suite import SystemdSuite
    s = SystemdSuite(BUILDDIR, deb=os.environ.get("SQDIFF_DEB"))
    yield s
    s.close()


def pytest_inside(installed, **env):
    """Runs `pytest tests/` inside the box with SQDIFF_TARGET=host; (output, counts)."""
    env = {"SQDIFF_TARGET": "host", "SQDIFF_URL": f"http://localhost:{installed.port}/",
           "SQDIFF_BUILDDIR": BUILDDIR, "PYTHONDONTWRITEBYTECODE": "1", **env}
    p = installed.box.run(["/bin/sh", "-c", f"cd '{ROOT}' && exec /usr/bin/python3 -m pytest -q -rfEs "
                           "-p no:cacheprovider tests/"], check=False, env=env, timeout=1800)
    out = p.stdout + p.stderr
    summary = out.strip().splitlines()[-1] if out.strip() else ""
    skipped = [line for line in out.splitlines() if line.startswith("SKIPPED")]
    print("\n".join(["", f"inside the box, {' '.join(f'{k}={v}' for k, v in env.items() if k.startswith('SQDIFF_'))}: "
                     f"{summary}", *skipped]))
    failed = [line for line in out.splitlines() if line.startswith(("FAILED", "ERROR"))]
    assert p.returncode == 0, "\n".join(failed) + "\n" + failure_report(out)
    counts = {k: int(n) for n, k in re.findall(r"(\d+) (passed|skipped|failed|errors?)", summary)}
    assert not counts.get("failed") and not counts.get("error"), summary
    return out, counts


def failure_report(out, limit=12000):
    """What pytest said about the failures (its FAILURES and ERRORS sections), else the end of
    its output: the end alone is mostly the list of skipped tests."""
    starts = [i for i in (out.find("= FAILURES ="), out.find("= ERRORS =")) if i >= 0]
    return out[min(starts):][:limit] if starts else out[-6000:]


def test_the_suite_passes_against_a_live_installation(installed):
    box = installed.box
    assert installed.get("/?n=1&n=2&n=3").json() == {"sum": 14, "square": 36, "diff": 22}
    before = {u: box.show(u, "MainPID", "NRestarts") for u in UNITS}
    out, counts = pytest_inside(installed)
    assert counts.get("passed", 0) >= 100, counts
    # The disruptive ones were skipped for that reason, and nothing that wants its own
    # configuration ran.
    assert "SQDIFF_ALLOW_DISRUPTIVE=1" in out and "configuration of its own" in out, out[-4000:]
    # Non-disruptive means it: the same processes still serve, none was restarted.
    after = {u: box.show(u, "MainPID", "NRestarts") for u in UNITS}
    assert after == before, (before, after)
    assert installed.get("/?n=4").json() == {"sum": 16, "square": 16, "diff": 0}


def test_the_disruptive_tests_pass_when_allowed(installed):
    """SQDIFF_ALLOW_DISRUPTIVE=1: the tests that stop, kill and signal units run as well."""
    out, counts = pytest_inside(installed, SQDIFF_ALLOW_DISRUPTIVE="1")
    assert "SQDIFF_ALLOW_DISRUPTIVE" not in out, out[-4000:]
    assert counts.get("passed", 0) >= 115, counts
    for unit in UNITS:
        assert installed.box.systemctl("is-active", unit, check=False).strip() == "active", unit
