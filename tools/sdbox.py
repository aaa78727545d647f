# SPDX-License-Identifier: MIT
"""A real systemd on a machine whose PID 1 is not systemd, for the tests and for
tools/sqdiff-box (`make run`): the one home of the box, which tests/ imports.

SystemdBox boots systemd in a throwaway container whose root is an overlay over
the host's own "/" (docs/systemd-box.md explains each step): everything
written inside lands in the overlay's upper dir and disappears on close(), while
the host's packages and the meson build tree are visible inside. The units the
host enables are masked, so only what a test enables runs in the box.

The black-box suite's view of sqdiff installed in a box is SystemdSuite, in
tests/systemd_suite.py.

Needs root, systemd-nspawn (Debian's systemd-container) and nsenter.
"""

import atexit
import contextlib
import fnmatch
import json
import os
import secrets
import shutil
import signal
import stat
import subprocess
import tempfile
import time
import weakref

PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
UNIT_DIR = "/etc/systemd/system"
RUNTIME_DIR = "/run/sqdiff"


class BoxError(RuntimeError):
    pass


class CommandError(subprocess.CalledProcessError):
    """A command in the box failed; str() shows what it printed."""

    def __str__(self):
        out = [super().__str__()]
        for name, text in (("stdout", self.stdout), ("stderr", self.stderr)):
            if text and text.strip():
                out.append(f"--- {name}:\n{text.strip()[-3000:]}")
        return "\n".join(out)


_open_boxes = weakref.WeakSet()


@atexit.register
def _close_forgotten_boxes():
    for box in list(_open_boxes):
        with contextlib.suppress(Exception):
            box.close()


def cgroup_hierarchies():
    """The cgroup trees a box gets its own cgroup in.

    Pure cgroup v2: /sys/fs/cgroup. Hybrid and legacy hosts: the v2 tree at
    /sys/fs/cgroup/unified and systemd's named v1 tree at /sys/fs/cgroup/systemd,
    whichever are mounted (the container's systemd manages its units there)."""
    if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        return ["/sys/fs/cgroup"]
    return [d for d in ("/sys/fs/cgroup/unified", "/sys/fs/cgroup/systemd") if os.path.ismount(d)]


def _visible_in_box(path):
    """Whether the box sees the host's path through its root overlay."""
    if any(path == d or path.startswith(d + "/") for d in ("/tmp", "/run", "/dev", "/proc", "/sys")):
        return False
    return os.stat(path).st_dev == os.stat("/").st_dev


def pid_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def _children(pid):
    """(pid, comm) of the processes whose parent is pid."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                text = f.read()
        except OSError:
            continue
        comm = text[text.index("(") + 1:text.rindex(")")]
        ppid = int(text[text.rindex(")") + 2:].split()[1])
        if ppid == pid:
            out.append((int(entry), comm))
    return out


class Machine:
    """What the tests ask of a machine with a systemd, over its run(): systemctl, unit
    properties, the journal. SystemdBox runs in a container; tests/hostsuite.py's
    HostMachine on this machine."""

    JOURNAL_SYNC = True

    def run(self, cmd, check=True, input=None, timeout=120, env=None):
        raise NotImplementedError

    def systemctl(self, *args, check=True, timeout=120):
        return self.run(["systemctl", *args], check=check, timeout=timeout).stdout

    def show(self, unit, *props):
        """systemctl show UNIT -p PROP... as a dict."""
        out = self.systemctl("show", unit, *(f"--property={p}" for p in props))
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def journal(self, *args, units=(), as_json=False, sync=None):
        """journalctl --no-pager [-u UNIT...] ARGS on the machine.

        Text, or with as_json a list of entries (dicts). units may be globs
        ("sqdiff*"). sync (default JOURNAL_SYNC) first flushes what journald has
        received to disk."""
        if self.JOURNAL_SYNC if sync is None else sync:
            self.run(["journalctl", "--sync"], check=False)
        cmd = ["journalctl", "--no-pager", "-q"]
        for u in units:
            cmd += ["-u", u]
        if as_json:
            cmd += ["-o", "json"]
        out = self.run(cmd + list(args)).stdout
        if not as_json:
            return out
        return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


class SystemdBox(Machine):
    """systemd 252 booted in a container over an overlay of the host's root.

    box = SystemdBox()            # boots; raises BoxError (after cleaning up) on failure
    box.run(["systemctl", ...])   # CompletedProcess, text; raises on failure if check
    box.close()                   # or use it as a context manager

    keep: fnmatch patterns of host-enabled units not to mask (e.g. "sqdiff*").
    expose: host directories that must be visible in the box, such as a build
    tree. The overlay shows only the root file system, and the box has its own
    /tmp, /run and /dev: a directory hidden that way gets an overlay mount of its
    own (writes inside are discarded).
    netns: the name of a network namespace (ip netns) for the box, instead of the
    host's network; hostname: the box's host name (default: its machine name).
    """

    def __init__(self, name=None, keep=(), expose=(), allow_degraded=False, boot_timeout=60, netns=None,
                 hostname=None):
        self.name = name or f"sdbox-{secrets.token_hex(4)}"
        self.keep = tuple(keep)
        self.netns, self.hostname = netns, hostname
        self.nspawn = None
        self.pid = None          # the container's systemd, as seen from the host
        self.dir = None
        self.root = None
        self.cgroups = []
        self.mounted = False
        self._log = None
        self._closed = False
        try:
            self._boot(expose, allow_degraded, boot_timeout)
        except BaseException:
            self.close()
            raise

    # --- boot ---------------------------------------------------------------------------------
    def _boot(self, expose, allow_degraded, boot_timeout):
        self.dir = tempfile.mkdtemp(prefix=f"{self.name}.")
        up = os.path.join(self.dir, "up")
        work = os.path.join(self.dir, "work")
        self.root = os.path.join(self.dir, "root")
        for d in (up, work, self.root):
            os.mkdir(d)
        subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                        f"lowerdir=/,upperdir={up},workdir={work}", self.root],
                       check=True, capture_output=True, text=True)
        self.mounted = True
        self._mask_host_units(up)
        if self.hostname:  # systemd sets it from /etc/hostname at boot, over nspawn's
            os.makedirs(os.path.join(up, "etc"), exist_ok=True)
            with open(os.path.join(up, "etc/hostname"), "w") as f:
                f.write(self.hostname + "\n")
        if os.path.lexists("/usr/sbin/policy-rc.d"):
            # A whiteout: maintainer scripts may start services inside.
            os.makedirs(os.path.join(up, "usr/sbin"), exist_ok=True)
            os.mknod(os.path.join(up, "usr/sbin/policy-rc.d"), stat.S_IFCHR | 0o600, os.makedev(0, 0))

        for h in cgroup_hierarchies():
            path = os.path.join(h, f"box-{self.name}")
            os.mkdir(path)
            self.cgroups.append(path)

        argv = ["systemd-nspawn", "-D", self.root, f"--machine={self.name}", "-b",
                "--console=pipe", "-q", "--register=no", "--link-journal=no", "--keep-unit"]
        if self.netns:
            argv.append(f"--network-namespace-path=/run/netns/{self.netns}")
        if self.hostname:
            argv.append(f"--hostname={self.hostname}")
        for i, path in enumerate(p for p in map(os.path.realpath, expose) if not _visible_in_box(p)):
            # An overlay of its own: visible and writable inside, changes discarded.
            upper = os.path.join(self.dir, "expose", str(i))
            os.makedirs(upper)
            argv.append("--overlay=" + ":".join(x.replace(":", "\\:") for x in (path, upper, path)))
        self._log = open(os.path.join(self.dir, "console.log"), "w+")
        # The shell moves itself into the box's cgroups, then becomes systemd-nspawn.
        enter = 'while [ "$1" != -- ]; do echo $$ >"$1" || exit 125; shift; done; shift; exec "$@"'
        procs = [os.path.join(c, "cgroup.procs") for c in self.cgroups]
        self.nspawn = subprocess.Popen(["/bin/sh", "-c", enter, "sh", *procs, "--", *argv],
                                       stdin=subprocess.DEVNULL, stdout=self._log,
                                       stderr=subprocess.STDOUT, start_new_session=True,
                                       env={"PATH": PATH, "LANG": "C.UTF-8"})
        _open_boxes.add(self)

        deadline = time.monotonic() + boot_timeout
        while self.pid is None:
            self._check_nspawn()
            self.pid = next((p for p, comm in _children(self.nspawn.pid) if comm == "systemd"), None)
            if self.pid is None:
                self._sleep_until(deadline, "systemd to start")

        state = None
        while True:
            self._check_nspawn()
            state = self.run(["systemctl", "is-system-running"], check=False, timeout=10).stdout.strip()
            if state in ("running", "degraded"):
                break
            self._sleep_until(deadline, f"the system to be running (is {state!r})")
        if state == "degraded" and not allow_degraded:
            failed = self.run(["systemctl", "--failed", "--no-legend", "--plain"], check=False).stdout
            raise BoxError(f"box {self.name} booted degraded; failed units:\n{failed}")

    def _mask_host_units(self, up):
        """Mask, in the box only, every unit the host enables (now, not at import time)."""
        unit_dir = os.path.join(up, UNIT_DIR.lstrip("/"))
        os.makedirs(unit_dir, exist_ok=True)
        for wants in sorted(os.listdir(UNIT_DIR)):
            if not wants.endswith(".target.wants"):
                continue
            for unit in os.listdir(os.path.join(UNIT_DIR, wants)):
                if self._kept(unit):
                    continue
                link = os.path.join(unit_dir, unit)
                if not os.path.lexists(link):
                    os.symlink("/dev/null", link)

    def _kept(self, unit):
        return any(fnmatch.fnmatch(unit, k) for k in self.keep)

    def _check_nspawn(self):
        if self.nspawn.poll() is not None:
            raise BoxError(f"systemd-nspawn for box {self.name} exited with "
                           f"{self.nspawn.returncode}:\n{self.console_log()[-4000:]}")

    def _sleep_until(self, deadline, what):
        if time.monotonic() > deadline:
            raise BoxError(f"box {self.name}: timed out waiting for {what}\n{self.console_log()[-4000:]}")
        time.sleep(0.02)

    # --- use ----------------------------------------------------------------------------------
    def run(self, cmd, check=True, input=None, timeout=120, env=None):
        """Run cmd (a list, or a string for sh -c) inside the box as root.

        Returns the CompletedProcess (text stdout/stderr); if check, raises
        CommandError (a subprocess.CalledProcessError) on a non-zero exit."""
        if self.pid is None:
            raise BoxError(f"box {self.name} is not running")
        if isinstance(cmd, str):
            cmd = ["/bin/sh", "-c", cmd]
        full_env = {"PATH": PATH, "LANG": "C.UTF-8", "SYSTEMD_PAGER": "", "SYSTEMD_COLORS": "0",
                    "TERM": "dumb"}
        full_env.update(env or {})
        p = subprocess.run(["nsenter", "-t", str(self.pid), "-a", *cmd], input=input,
                           capture_output=True, text=True, timeout=timeout, env=full_env)
        if check and p.returncode != 0:
            raise CommandError(p.returncode, cmd, p.stdout, p.stderr)
        return p

    def popen(self, cmd, env=None):
        """Start cmd (a list) inside the box as root, with stdin and stdout as text pipes;
        the caller waits for it (subprocess.Popen)."""
        if self.pid is None:
            raise BoxError(f"box {self.name} is not running")
        full_env = {"PATH": PATH, "LANG": "C.UTF-8", "TERM": "dumb"}
        full_env.update(env or {})
        return subprocess.Popen(["nsenter", "-t", str(self.pid), "-a", *cmd], env=full_env, text=True,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def host_pid(self, pid):
        """The host's pid of the process that has pid in the box (None if gone)."""
        ns = os.readlink(f"/proc/{self.pid}/ns/pid")
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                if os.readlink(f"/proc/{entry}/ns/pid") != ns:
                    continue
                with open(f"/proc/{entry}/status") as f:
                    for line in f:
                        if line.startswith("NSpid:"):
                            if int(line.split()[-1]) == pid:
                                return int(entry)
                            break
            except (OSError, ValueError):
                continue
        return None

    def path(self, path):
        """The host's path of a path in the box (through the overlay)."""
        return os.path.join(self.root, path.lstrip("/"))

    def write_file(self, path, text, mode=0o644):
        p = self.path(path)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(text)
        os.chmod(p, mode)

    def console_log(self):
        """What the container wrote to its console (boot messages)."""
        if self._log is None or self._log.closed:
            return ""
        self._log.flush()
        with open(self._log.name, errors="replace") as f:
            return f.read()

    # --- teardown -----------------------------------------------------------------------------
    def close(self):
        """Power off and remove everything; safe to call twice, after any failure."""
        if self._closed:
            return
        self._closed = True
        errors = []
        try:
            self._stop()
        except Exception as e:
            errors.append(f"stop: {e}")
        self._kill_cgroups()
        self.pid = None
        if self.mounted:
            for lazy in (False, False, False, True):
                r = subprocess.run(["umount", *(["-l"] if lazy else []), self.root],
                                   capture_output=True, text=True)
                if r.returncode == 0:
                    self.mounted = False
                    break
                time.sleep(0.1)
            if self.mounted:
                errors.append(f"umount {self.root}: {r.stderr.strip()}")
        for c in reversed(self.cgroups):
            if not self._remove_cgroup(c):
                errors.append(f"could not remove cgroup {c}")
        self.cgroups = []
        if self._log is not None:
            self._log.close()
        if self.dir and not self.mounted:
            shutil.rmtree(self.dir, ignore_errors=True)
            if os.path.exists(self.dir):
                errors.append(f"could not remove {self.dir}")
        _open_boxes.discard(self)
        if errors:
            raise BoxError(f"box {self.name} teardown: " + "; ".join(errors))

    def _stop(self):
        if self.nspawn is None or self.nspawn.poll() is not None:
            return
        if self.pid is not None and pid_alive(self.pid):
            with contextlib.suppress(Exception):
                self.run(["systemctl", "poweroff", "--no-block"], check=False, timeout=10)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.nspawn.wait(timeout=30)
                return
        # nspawn halts the container cleanly on SIGTERM.
        self.nspawn.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.nspawn.wait(timeout=10)
            return
        self._kill_cgroups()
        self.nspawn.kill()
        self.nspawn.wait(timeout=10)

    def _kill_cgroups(self):
        """SIGKILL whatever still runs in the box's cgroups (the container's PID 1 first)."""
        if self.pid is not None and pid_alive(self.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
        for c in self.cgroups:
            if os.path.exists(os.path.join(c, "cgroup.kill")):
                with contextlib.suppress(OSError):
                    with open(os.path.join(c, "cgroup.kill"), "w") as f:
                        f.write("1")
            for d, _, files in os.walk(c):
                with contextlib.suppress(OSError), open(os.path.join(d, "cgroup.procs")) as f:
                    for pid in f.read().split():
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(int(pid), signal.SIGKILL)
        if self.nspawn is not None and self.nspawn.poll() is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.nspawn.wait(timeout=10)

    @staticmethod
    def _remove_cgroup(top):
        deadline = time.monotonic() + 10
        while os.path.exists(top):
            for d, _, _ in os.walk(top, topdown=False):
                with contextlib.suppress(OSError):
                    os.rmdir(d)
            if not os.path.exists(top):
                break
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
