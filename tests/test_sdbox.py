# SPDX-License-Identifier: MIT
"""Tests of the test harness itself: SystemdBox, without any sqdiff binary."""

import glob
import os
import signal
import subprocess
import tempfile

import pytest

from sdbox import SystemdBox, pid_alive, cgroup_hierarchies


def host_enabled_units():
    return sorted({os.path.basename(p) for p in glob.glob("/etc/systemd/system/*.target.wants/*")})


def mounted(path):
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == path for line in f)


def gone(box):
    """What a closed box left behind (empty when clean)."""
    left = []
    if mounted(box.root):
        left.append(f"mount {box.root}")
    if os.path.exists(box.dir):
        left.append(f"dir {box.dir}")
    left += [f"cgroup {p}" for p in glob.glob(f"/sys/fs/cgroup/*/box-{box.name}") +
             glob.glob(f"/sys/fs/cgroup/box-{box.name}")]
    if box.nspawn.poll() is None:
        left.append(f"systemd-nspawn {box.nspawn.pid}")
    return left


@pytest.fixture(scope="module")
def box():
    with SystemdBox() as b:
        yield b


def test_boots_to_running(box):
    assert box.run(["systemctl", "is-system-running"]).stdout.strip() == "running"
    assert box.run(["cat", "/proc/1/comm"]).stdout.strip() == "systemd"


def test_run_returns_output_and_status(box):
    assert box.run(["echo", "hello"]).stdout == "hello\n"
    assert box.run("echo $((6 * 7)) >&2").stderr == "42\n"
    assert box.run(["sh", "-c", "exit 3"], check=False).returncode == 3
    with pytest.raises(subprocess.CalledProcessError):
        box.run(["false"])
    assert box.run(["printenv", "FOO"], env={"FOO": "bar"}).stdout == "bar\n"


def test_host_enabled_units_are_masked_and_inactive(box):
    units = host_enabled_units()
    if not units:
        pytest.skip("the host enables no unit in /etc/systemd/system/*.target.wants")
    for unit in units:
        props = box.show(unit, "LoadState", "ActiveState")
        assert props == {"LoadState": "masked", "ActiveState": "inactive"}, unit


def test_writes_stay_in_the_box(box):
    marker = f"/etc/sdbox-marker-{box.name}"
    box.run(["touch", marker])
    box.run(["test", "-e", marker])
    assert not os.path.exists(marker)
    assert os.path.exists(box.path(marker))


def test_policy_rc_d_hidden(box):
    if not os.path.lexists("/usr/sbin/policy-rc.d"):
        pytest.skip("no /usr/sbin/policy-rc.d on the host")
    assert box.run(["test", "-e", "/usr/sbin/policy-rc.d"], check=False).returncode != 0


def test_journal_and_host_pid(box):
    box.run(["systemd-cat", "-t", "sdbox-test", "echo", "hello journal"])
    entries = box.journal("-t", "sdbox-test", as_json=True)
    assert [e["MESSAGE"] for e in entries] == ["hello journal"]

    box.run(["systemd-run", "-G", "--unit=sdbox-sleeper", "sleep", "300"])
    try:
        pid = int(box.show("sdbox-sleeper.service", "MainPID")["MainPID"])
        host = box.host_pid(pid)
        assert host is not None and host != pid
        with open(f"/proc/{host}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
        assert os.path.basename(argv[0]) == b"sleep" and argv[1] == b"300"
    finally:
        box.systemctl("stop", "sdbox-sleeper.service")


def test_expose_a_hidden_host_dir():
    # The box has its own /tmp: an exposed dir there is visible, and writes stay inside.
    with tempfile.TemporaryDirectory(prefix="sdbox-expose-") as d:
        with open(os.path.join(d, "in"), "w") as f:
            f.write("from the host\n")
        with SystemdBox(expose=[d]) as b:
            assert b.run(["cat", f"{d}/in"]).stdout == "from the host\n"
            b.run(["sh", "-c", f"echo from the box > {d}/out && rm {d}/in"])
            assert b.run(["cat", f"{d}/out"]).stdout == "from the box\n"
            assert sorted(os.listdir(d)) == ["in"]
        assert gone(b) == []
        assert sorted(os.listdir(d)) == ["in"]


def test_two_boxes_have_separate_unit_views():
    with SystemdBox() as a, SystemdBox() as b:
        assert a.pid != b.pid
        a.run(["systemd-run", "-G", "--unit=sdbox-only-in-a", "sleep", "300"])
        assert a.run(["systemctl", "is-active", "sdbox-only-in-a.service"]).stdout.strip() == "active"
        assert b.run(["systemctl", "is-active", "sdbox-only-in-a.service"],
                     check=False).stdout.strip() == "inactive"
        assert "sdbox-only-in-a" not in b.systemctl("list-units", "--all", "--no-legend")
        b.run(["touch", "/etc/sdbox-only-in-b"])
        assert a.run(["test", "-e", "/etc/sdbox-only-in-b"], check=False).returncode != 0

        # The same unit in both: separate cgroups, so stopping it in one box
        # leaves the other's alone.
        pids = {}
        for box in (a, b):
            box.run(["systemd-run", "-G", "--unit=sdbox-in-both", "sleep", "300"])
            pids[box] = box.host_pid(int(box.show("sdbox-in-both.service", "MainPID")["MainPID"]))
        cgroups = {box: open(f"/proc/{pid}/cgroup").read() for box, pid in pids.items()}
        assert cgroups[a] != cgroups[b]
        b.systemctl("stop", "sdbox-in-both.service")
        assert a.show("sdbox-in-both.service", "ActiveState") == {"ActiveState": "active"}
        assert pid_alive(pids[a])
        assert a.run(["systemctl", "is-system-running"]).stdout.strip() == "running"
        assert b.run(["systemctl", "is-system-running"]).stdout.strip() == "running"


def test_close_leaves_nothing_behind():
    b = SystemdBox()
    assert cgroup_hierarchies(), "no cgroup hierarchy found"
    cgroups = list(b.cgroups)
    assert cgroups and all(os.path.isdir(c) for c in cgroups)
    assert mounted(b.root)
    b.run(["systemd-run", "-G", "--unit=sdbox-busy", "sleep", "300"])
    b.close()
    assert gone(b) == []
    assert not any(os.path.exists(c) for c in cgroups)
    b.close()  # twice is fine


def test_close_after_nspawn_was_killed():
    b = SystemdBox()
    container_init = b.pid
    os.kill(b.nspawn.pid, signal.SIGKILL)
    b.nspawn.wait()
    b.close()
    assert gone(b) == []
    assert not pid_alive(container_init)  # a zombie until the host reaps it


def test_context_manager_cleans_up_after_an_exception():
    with pytest.raises(ZeroDivisionError):
        with SystemdBox() as b:
            1 / 0
    assert gone(b) == []
