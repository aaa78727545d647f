# SPDX-License-Identifier: MIT
"""SystemdSuite: the installed sqdiff suite in a SystemdBox (tools/sdbox.py), as the
black-box tests see it: `meson install` inside (or apt with the .deb), users from
sysusers.d, the socket moved to a free port with a drop-in, then
`systemctl enable --now` exactly as a user would.
"""

import contextlib
import json
import os
import signal

from sdbox import RUNTIME_DIR, UNIT_DIR, SystemdBox
from suite import Suite, free_port


class UnitSuite(Suite):
    """The suite as systemd runs it, on self.box (a tools/sdbox.py Machine): the daemons are
    units, controlled with systemctl. SystemdSuite's box is a container; HostSuite's is this
    machine (tests/hostsuite.py)."""

    KINDS = ("sum", "square")
    HTTPD = "sqdiff-httpd.service"
    SOCKET = "sqdiff-httpd.socket"
    worker_binary = "/usr/sbin/sqdiff-worker"

    def worker_unit(self, kind):
        return f"sqdiff-worker@{kind}.service"

    def _main_pid(self, unit):
        """The host's pid of unit's main process, or None."""
        pid = int(self.box.show(unit, "MainPID")["MainPID"])
        return self.box.host_pid(pid) if pid else None

    def worker_pids(self, kind):
        pid = self._main_pid(self.worker_unit(kind))
        return [pid] if pid is not None else []

    def frontend_pid(self):
        return self._main_pid(self.HTTPD)

    def signal_workers(self, kind, sig):
        self.box.systemctl("kill", "-s", signal.Signals(sig).name, self.worker_unit(kind))

    @contextlib.contextmanager
    def stall_allowed(self, kind):
        """systemd's watchdog (3 s) kills a stopped worker, and since a worker's jobs go to the
        next one, a request that should time out may then be served: off while a test stalls
        one on purpose."""
        unit = self.worker_unit(kind)
        dropin_dir = f"/run/systemd/system/{unit}.d"
        dropin = f"{dropin_dir}/50-test-stall.conf"
        # /run is the box's own tmpfs, out of write_file's reach: written from inside
        self.box.run(["sh", "-c", f"mkdir -p {dropin_dir} && "
                      f"printf '[Service]\\nWatchdogSec=0\\n' > {dropin}"])
        self.box.systemctl("daemon-reload")
        self.box.systemctl("restart", unit)
        assert self.box.show(unit, "WatchdogUSec")["WatchdogUSec"] in ("0", "infinity")
        try:
            yield
        finally:
            self.box.run(["rm", "-f", dropin])
            self.box.systemctl("daemon-reload")
            self.box.systemctl("kill", "-s", "SIGCONT", unit, check=False)
            self.box.systemctl("restart", unit)

    def restart_workers(self):
        if self.mode != "workers":
            return
        for kind in self.KINDS:
            unit = self.worker_unit(kind)
            self.box.systemctl("kill", "-s", "SIGCONT", unit, check=False)
            self.box.systemctl("reset-failed", unit, check=False)
            self.box.systemctl("start", unit)

    def stop_workers(self, kind):
        unit = self.worker_unit(kind)
        self.box.systemctl("kill", "-s", "SIGCONT", unit, check=False)
        self.box.systemctl("stop", unit)

    def start_workers(self, kind):
        self.box.systemctl("start", self.worker_unit(kind))

    def status(self):
        return self.box.show(self.HTTPD, "StatusText").get("StatusText", "")

    def run_python(self, code, timeout=30):
        return self.box.run(["/usr/bin/python3", "-c", code], timeout=timeout,
                            env={"SQDIFF_RUNTIME_DIR": RUNTIME_DIR}).stdout

    def start_python(self, code):
        return self.box.popen(["/usr/bin/python3", "-c", code], env={"SQDIFF_RUNTIME_DIR": RUNTIME_DIR})

    def logs(self):
        return self.box.journal(units=("sqdiff*",))


class SystemdSuite(UnitSuite):
    """The sqdiff suite installed from a meson build dir and enabled in a SystemdBox.

    config: text of /etc/sqdiff/sqdiff.conf. Without it, mode and extra_config
    write one as ProcessSuite does, unless they are the defaults: then the box
    keeps what `meson install` installed.
    worker_pids() returns host pids (like ProcessSuite); box.show() gives the
    box's view. close() raises, like ProcessSuite's, if a daemon did not exit 0
    on SIGTERM."""

    def __init__(self, builddir, mode="workers", extra_config="", config=None, deb=None):
        self.builddir = os.path.abspath(builddir)
        self.mode = mode
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        with open(os.path.join(self.builddir, "meson-info", "meson-info.json")) as f:
            srcdir = json.load(f)["directories"]["source"]
        self.deb = os.path.abspath(deb) if deb else None
        expose = (self.builddir, srcdir) + ((os.path.dirname(self.deb),) if self.deb else ())
        self.box = SystemdBox(keep=("sqdiff*",), expose=expose)
        try:
            self._setup(mode, extra_config, config)
        except Exception as e:
            with contextlib.suppress(Exception):
                e.add_note("journal of the box:\n" + self.box.journal("-n", "60", "-o", "short-monotonic"))
            self.box.close()
            raise
        except BaseException:
            self.box.close()
            raise

    def _setup(self, mode, extra_config, config):
        box = self.box
        box.write_file(f"{UNIT_DIR}/{self.SOCKET}.d/50-test-port.conf",
                       f"[Socket]\nListenStream=\nListenStream=127.0.0.1:{self.port}\n")
        if self.deb:
            # As users get it: apt installs the package, whose scripts start the suite.
            box.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", self.deb],
                    env={"DEBIAN_FRONTEND": "noninteractive"}, timeout=300)
        else:
            box.run(["meson", "install", "-C", self.builddir, "--no-rebuild", "--quiet"])
            box.run(["systemd-sysusers"])
            box.run(["journalctl", "--update-catalog"])
        if config is None and (mode != "workers" or extra_config):
            config = f"[httpd]\nmode = {mode}\n{extra_config}\n"
        if config is not None:
            box.write_file("/etc/sqdiff/sqdiff.conf", config)
            if self.deb:
                # The package started its units already: they must read the new file.
                box.systemctl("stop", "sqdiff-httpd.service", "sqdiff-worker@sum.service",
                              "sqdiff-worker@square.service")
                if mode != "workers":
                    box.systemctl("disable", "sqdiff-worker@sum.service", "sqdiff-worker@square.service")
        # The metrics socket too, on a port of its own (the box shares the host's network).
        self.metrics_port = free_port()
        self.metrics_url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        box.write_file(f"{UNIT_DIR}/sqdiff-httpd-metrics.socket.d/50-test-port.conf",
                       f"[Socket]\nListenStream=\nListenStream=127.0.0.1:{self.metrics_port}\n")
        box.systemctl("daemon-reload")
        units = [self.SOCKET, "sqdiff-httpd-metrics.socket"]
        if mode == "workers":
            units += [f"sqdiff-worker@{k}" for k in self.KINDS]
        box.systemctl("enable", "--now", *units)
        # A front end already running takes the metrics socket at its next start.
        box.systemctl("try-restart", "sqdiff-httpd.service")

    def restart_frontend(self):
        # The socket unit keeps listening while the service is down.
        problems = self._stop_checked([self.HTTPD])
        if problems:
            raise AssertionError("; ".join(problems))
        self.box.systemctl("start", self.HTTPD)

    def _stop_checked(self, units, also=()):
        """Stops units (and also) and says which of their running main processes did not
        exit 0 on SIGTERM. A process a test killed, or the watchdog, and not yet
        replaced does not count: only the ones running when the stop begins."""
        running = {u: self.box.show(u, "MainPID")["MainPID"] for u in units}
        self.box.systemctl("kill", "-s", "SIGCONT", *units, check=False)
        self.box.systemctl("stop", *also, *units)
        problems = []
        for unit, pid in running.items():
            if pid == "0":
                continue
            p = self.box.show(unit, "Result", "ExecMainPID", "ExecMainCode", "ExecMainStatus")
            # ExecMainCode: 1 exited (CLD_EXITED), 2 killed, 3 dumped core.
            if p["ExecMainPID"] != pid:
                continue  # replaced while stopping: not the process we asked to stop
            if p["ExecMainCode"] != "1" or p["ExecMainStatus"] != "0" or p["Result"] != "success":
                how = "exited with" if p["ExecMainCode"] == "1" else "killed by signal"
                problems.append(f"{unit}: result {p['Result']}, main process {how} {p['ExecMainStatus']}")
        return problems

    def close(self):
        """Stops the suite, then the box; raises if a daemon did not stop cleanly."""
        failed, logs = [], ""
        try:
            failed = self._stop_checked([self.HTTPD, *map(self.worker_unit, self.KINDS)],
                                        also=[self.SOCKET])
            if failed:
                logs = self.logs()
        except Exception as e:
            failed.append(f"stopping the suite: {e}")
        finally:
            self.box.close()
        if failed:
            raise AssertionError("; ".join(failed) + "\n--- journal:\n" + logs[-5000:])
