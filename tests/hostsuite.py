# SPDX-License-Identifier: MIT
"""The suite as installed and running on this machine, under its own systemd (PID 1).

SQDIFF_TARGET=host runs the black-box tests against a live installation: an operator's
check that a machine serves right, with the host's units and journal. HostSuite has the
interface of ProcessSuite (tests/suite.py) and SystemdSuite (tests/systemd_suite.py), and its `box`
is this machine (HostMachine, SystemdBox's interface without a container), so the tests that
look at units and the journal run unchanged.

The live installation is not the tests' own, so:
  - it is reached at SQDIFF_URL (default http://localhost:8080/), a port on this machine;
  - nothing that stops, starts, kills, signals or reconfigures a unit runs, and nothing that
    writes files or sends into the daemons' own sockets, unless SQDIFF_ALLOW_DISRUPTIVE=1:
    such a test is skipped at the step that would disturb the service;
  - a test that needs a configuration of its own (a suite with other settings or local
    mode) is skipped;
  - close() checks that the front end's socket and both workers are still active.
"""

import os
import subprocess
import time
import urllib.parse

import pytest

from sdbox import RUNTIME_DIR, Machine
from systemd_suite import UnitSuite

ALLOW_ENV = "SQDIFF_ALLOW_DISRUPTIVE"
# systemctl verbs that change what runs; the others only read.
CHANGING_VERBS = {"start", "stop", "restart", "try-restart", "reload", "reload-or-restart", "kill",
                  "clean", "freeze", "thaw", "enable", "disable", "reenable", "mask", "unmask",
                  "edit", "set-property", "revert", "daemon-reload", "daemon-reexec", "reset-failed",
                  "isolate", "link", "preset"}


def disruptive_allowed():
    return os.environ.get(ALLOW_ENV) == "1"


def disturb(what):
    """Skips the running test unless disruptive tests are allowed."""
    if not disruptive_allowed():
        pytest.skip(f"would {what} on the live installation (set {ALLOW_ENV}=1 to allow)")


class HostMachine(Machine):
    """This machine as a Machine: commands run here, pids and paths are the same. Every
    systemctl verb that changes what runs is a disturbance (disturb())."""

    JOURNAL_SYNC = False

    def run(self, cmd, check=True, input=None, timeout=120, env=None):
        if isinstance(cmd, str):
            cmd = ["/bin/sh", "-c", cmd]
        full_env = dict(os.environ, LANG="C.UTF-8", SYSTEMD_PAGER="", SYSTEMD_COLORS="0", TERM="dumb")
        full_env.update(env or {})
        return subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout,
                              env=full_env, check=check)

    def popen(self, cmd, env=None):
        return subprocess.Popen(cmd, env=dict(os.environ, **(env or {})), text=True,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def systemctl(self, *args, check=True, timeout=120):
        verb = next((a for a in args if not a.startswith("-")), "")
        if verb in CHANGING_VERBS:
            disturb(f"systemctl {' '.join(args)}")
        return super().systemctl(*args, check=check, timeout=timeout)

    def host_pid(self, pid):
        return pid

    def path(self, path):
        return path

    def write_file(self, path, text, mode=0o644):
        disturb(f"write {path}")
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)


class HostSuite(UnitSuite):
    """The installed suite on this machine, in workers mode with its own configuration."""

    def __init__(self, mode="workers", extra_config=""):
        if mode != "workers" or extra_config:
            pytest.skip("needs a suite with a configuration of its own; SQDIFF_TARGET=host tests "
                        "the installed one")
        url = os.environ.get("SQDIFF_URL", "http://localhost:8080/")
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "http" or not parts.hostname or parts.path not in ("", "/"):
            raise ValueError(f"SQDIFF_URL={url!r}: want http://HOST:PORT/ on this machine")
        self.url = f"http://{parts.netloc}"
        # The metrics socket is off unless enabled: only where the operator says.
        self.metrics_url = os.environ.get("SQDIFF_METRICS_URL")
        self.port = parts.port or 80
        self.mode = mode
        self.box = HostMachine()
        self.started = time.time()
        if not os.path.isdir("/run/systemd/system"):
            raise RuntimeError("SQDIFF_TARGET=host needs a machine whose PID 1 is systemd")
        inactive = [u for u in self._units() if self._state(u) != "active"]
        if inactive:
            raise RuntimeError(f"SQDIFF_TARGET=host: {', '.join(inactive)} not active on this machine "
                               "(systemctl enable --now sqdiff-httpd.socket sqdiff-worker@sum "
                               "sqdiff-worker@square)")

    def _units(self):
        return [self.SOCKET] + [self.worker_unit(k) for k in self.KINDS]

    def _state(self, unit):
        return self.box.show(unit, "ActiveState")["ActiveState"]

    # Everything below changes what runs: the test skips unless allowed.
    def signal_workers(self, kind, sig):
        disturb(f"signal the {kind} worker")
        super().signal_workers(kind, sig)

    def restart_workers(self):
        disturb("restart the workers")
        super().restart_workers()

    def stop_workers(self, kind):
        disturb(f"stop the {kind} worker")
        super().stop_workers(kind)

    def start_workers(self, kind):
        disturb(f"start the {kind} worker")
        super().start_workers(kind)

    def restart_frontend(self):
        disturb("restart the front end")
        self.box.systemctl("restart", self.HTTPD)

    def run_python(self, code, timeout=30):
        """Runs code here as root. Code that reaches the daemons' own sockets (through
        SQDIFF_RUNTIME_DIR) disturbs the service: only with SQDIFF_ALLOW_DISRUPTIVE=1."""
        if "SQDIFF_RUNTIME_DIR" in code:
            disturb("send into the daemons' sockets in " + RUNTIME_DIR)
        return super().run_python(code, timeout)

    def start_python(self, code):
        disturb("send into the daemons' sockets in " + RUNTIME_DIR)
        return super().start_python(code)

    def logs(self):
        return self.box.journal(f"--since=@{int(self.started)}", units=("sqdiff*",))

    def close(self):
        """Leaves the installation running; raises if the tests left it not active."""
        inactive = [u for u in self._units() if self._state(u) != "active"]
        if inactive:
            raise AssertionError(f"after the tests, {', '.join(inactive)} not active\n--- journal:\n"
                                 + self.logs()[-5000:])
