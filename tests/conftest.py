"""Fixtures for the black-box suite.

SQDIFF_TARGET selects what the tests run against:
  process  (default) the binaries of the meson build dir SQDIFF_BUILDDIR (default
           build/) as plain processes, the front end socket-activated by
           systemd-socket-activate. Used for the sanitizer build.
  systemd  the suite installed from SQDIFF_BUILDDIR into a real systemd booted in a
           throwaway container (tools/sdbox.py) and enabled as a user would; with
           SQDIFF_DEB=path/sqdiff_*.deb installed from that package with apt instead.
  host     the suite installed and running on this machine, whose PID 1 is systemd, at
           SQDIFF_URL (default http://localhost:8080/): tests/hostsuite.py. Tests that would
           stop, kill, signal or reconfigure its units skip unless SQDIFF_ALLOW_DISRUPTIVE=1;
           tests that need a configuration of their own skip; the tests that build packages
           or boot containers are not collected.
"""

import contextlib
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The tests' own modules, and the systemd box, whose home is tools/ (tools/sqdiff-box uses it too).
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(1, os.path.join(ROOT, "tools"))

from suite import ProcessSuite  # noqa: E402

BUILDDIR = os.path.abspath(os.environ.get("SQDIFF_BUILDDIR", os.path.join(ROOT, "build")))
TARGET = os.environ.get("SQDIFF_TARGET", "process")


# On a live machine, nothing that builds packages or boots containers.
collect_ignore = ["test_packaging.py", "test_repo.py", "test_sdbox.py", "test_host.py", "test_docs.py"] if TARGET == "host" else []


def make_suite(mode="workers", extra_config=""):
    if TARGET == "host":
        from hostsuite import HostSuite
        return HostSuite(mode=mode, extra_config=extra_config)
    if TARGET == "systemd":
        from systemd_suite import SystemdSuite
        return SystemdSuite(BUILDDIR, mode=mode, extra_config=extra_config, deb=os.environ.get("SQDIFF_DEB"))
    return ProcessSuite(BUILDDIR, mode=mode, extra_config=extra_config)


@pytest.fixture(scope="session")
def suite():
    """The suite in workers mode, with default settings. Tests must leave its workers running."""
    s = make_suite()
    yield s
    s.close()


@pytest.fixture(scope="session")
def local_suite():
    s = make_suite(mode="local")
    yield s
    s.close()


@pytest.fixture(scope="session")
def small_suite():
    """Workers mode with small limits, to reach them cheaply."""
    s = make_suite(extra_config="max-pending = 20\nmax-body-size = 4K\n[global]\nmax-numbers = 100\n")
    yield s
    s.close()


@pytest.fixture
def builddir():
    if TARGET == "host" and not os.access(os.path.join(BUILDDIR, "src", "sqdiff-httpd"), os.X_OK):
        pytest.skip(f"no meson build in {BUILDDIR} (SQDIFF_BUILDDIR) to run the binaries from")
    return BUILDDIR


# --- the attack tests' suites (tests/test_attacks.py) -------------------------------------------

@contextlib.contextmanager
def lean_asan():
    """Daemons started within have an RSS that says what they hold: under ASan, freed memory
    would stay in the allocator's quarantine (256 MB by default) and read as growth."""
    saved = os.environ.get("ASAN_OPTIONS")
    if saved is not None:
        os.environ["ASAN_OPTIONS"] = saved + ":quarantine_size_mb=4:thread_local_quarantine_size_kb=64"
    try:
        yield
    finally:
        if saved is not None:
            os.environ["ASAN_OPTIONS"] = saved


def _attack_suite(extra_config):
    with lean_asan():
        return make_suite(extra_config=extra_config)


@pytest.fixture(scope="session")
def attack_suite():
    """Workers mode with a short idle timeout and small connection and body limits, so that
    hostile clients meet the limits within seconds. Tests must leave its workers running."""
    s = _attack_suite("idle-timeout = 2s\nmax-connections = 32\nmax-body-size = 1M\n")
    yield s
    s.close()


@pytest.fixture(scope="session")
def memory_suite():
    """Workers mode with a small memory budget for all connections (max-held-bytes 4M) and
    room on each (max-body-size 8M): connections within their own limits add up past it."""
    s = _attack_suite("max-held-bytes = 4M\nmax-body-size = 8M\n")
    yield s
    s.close()


@pytest.fixture(scope="session")
def patient_suite():
    """Workers mode with the default idle timeout (10 s) and connection cap, and a queue toward
    the workers of 24 MiB per kind: room for one 20 MiB job, not for the twelve a test sends."""
    s = _attack_suite("max-queued-bytes = 24M\n")
    yield s
    s.close()
