"""The command line and the configuration file, through the real binaries."""

import os
import subprocess

import pytest


def run(builddir, prog, *args):
    return subprocess.run([os.path.join(builddir, "src", prog), *args], capture_output=True, text=True,
                          timeout=30)


@pytest.mark.parametrize("prog", ["sqdiff-httpd", "sqdiff-worker"])
def test_check_accepts_a_good_file(builddir, tmp_path, prog):
    conf = tmp_path / "sqdiff.conf"
    conf.write_text("[global]\nmax-numbers = 10\n[httpd]\nmode = local\nrequest-timeout = 500ms\n")
    extra = ["--kind=sum"] if prog == "sqdiff-worker" else []
    r = run(builddir, prog, "--config", str(conf), "--check", *extra)
    assert r.returncode == 0, r.stderr
    assert "OK" in r.stdout


@pytest.mark.parametrize("text,line,needle", [
    ("[httpd]\nmode = fast\n", 2, '"fast"'),
    ("[global]\n\nmax-numbers = -1\n", 3, "max-numbers"),
    ("[httpd]\nrequest-timeout = soon\n", 2, "duration"),
    ("[httpd]\nmax-body-size = 9G\n", 2, "out of range"),
    ("[httpd]\nno-such-key = 1\n", 2, "unknown setting"),
    ("[worker]\nmode = local\n", 2, "[httpd]"),
    ("[httpd]\nnot ini at all\n", 2, ""),
])
def test_check_refuses_a_bad_file_with_file_and_line(builddir, tmp_path, text, line, needle):
    conf = tmp_path / "bad.conf"
    conf.write_text(text)
    r = run(builddir, "sqdiff-httpd", "--config", str(conf), "--check")
    assert r.returncode == 78, "a configuration error exits EX_CONFIG (78)"
    assert f"{conf}:{line}: " in r.stderr
    assert needle in r.stderr
    r = run(builddir, "sqdiff-httpd", "--config", str(conf), "--listen", "127.0.0.1:0")
    assert r.returncode == 78 and f"{conf}:{line}: " in r.stderr, "starting with it: the same error, the same status"


def test_command_line_overrides_and_is_checked(builddir, tmp_path):
    conf = tmp_path / "sqdiff.conf"
    conf.write_text("[httpd]\nmode = workers\n")
    r = run(builddir, "sqdiff-httpd", "--config", str(conf), "--mode=local", "--check")
    assert r.returncode == 0 and "mode local" in r.stdout
    r = run(builddir, "sqdiff-httpd", "--config", str(conf), "--max-pending=lots", "--check")
    assert r.returncode != 0 and "max-pending" in r.stderr


def test_missing_named_config_is_an_error(builddir, tmp_path):
    r = run(builddir, "sqdiff-httpd", "--config", str(tmp_path / "nope.conf"), "--check")
    assert r.returncode != 0 and "nope.conf" in r.stderr


def test_worker_needs_a_kind(builddir):
    r = run(builddir, "sqdiff-worker", "--config", "/dev/null")
    assert r.returncode != 0 and "--kind" in r.stderr
    r = run(builddir, "sqdiff-worker", "--config", "/dev/null", "--check")
    assert r.returncode == 0 and "OK" in r.stdout, "--check reads what both kinds read: no --kind needed"
    r = run(builddir, "sqdiff-worker", "--config", "/dev/null", "--kind=diff")
    assert r.returncode != 0 and "diff" in r.stderr


def test_httpd_without_sockets_says_how_to_start_it(builddir):
    r = run(builddir, "sqdiff-httpd", "--config", "/dev/null")
    assert r.returncode != 0 and "--listen" in r.stderr


def test_help_lists_every_setting(builddir):
    r = run(builddir, "sqdiff-httpd", "--help")
    assert r.returncode == 0
    assert "CONFIG_" not in r.stdout, "an internal name in --help"
    for key in ("mode", "request-timeout", "reaper-interval", "max-pending", "max-numbers", "max-body-size",
                "idle-timeout", "log-requests", "jobs-sum-endpoint", "curve-secret-key", "allow-insecure-tcp"):
        assert f"--{key}" in r.stdout


@pytest.mark.parametrize("host", ["127.0.0.1", "[::1]"])
def test_listen_by_hand_on_ipv4_and_ipv6(builddir, tmp_path, host):
    import socket
    import time
    import urllib.request
    with socket.socket(socket.AF_INET6 if host.startswith("[") else socket.AF_INET) as s:
        s.bind((host.strip("[]"), 0))
        port = s.getsockname()[1]
    p = subprocess.Popen([os.path.join(builddir, "src", "sqdiff-httpd"), "--config", "/dev/null", "--mode=local",
                          "--runtime-dir", str(tmp_path), "--listen", f"{host}:{port}"])
    try:
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://{host}:{port}/?n=1&n=2&n=3", timeout=5) as r:
                    assert r.read() == b'{"sum":14,"square":36,"diff":22}'
                    break
            except OSError:
                time.sleep(0.05)
        else:
            raise AssertionError("no answer")
    finally:
        p.terminate()
        assert p.wait(10) == 0


def keygen(builddir, path):
    r = run(builddir, "sqdiff-keygen", str(path))
    assert r.returncode == 0, r.stderr
    return str(path)


def front_end_conf(tmp_path, secret, allow):
    conf = tmp_path / "fe.conf"
    conf.write_text("[global]\njobs-sum-endpoint = ipc://RUNDIR/jobs-sum.sock tcp://*:5601\n"
                    "jobs-square-endpoint = ipc://RUNDIR/jobs-square.sock tcp://*:5602\n"
                    f"curve-secret-key = {secret}\n[httpd]\ncurve-allowed-keys = {allow}\n")
    return str(conf)


def test_check_reads_the_keys_and_the_allow_list_as_start_up_will(builddir, tmp_path):
    """--check does what start-up does short of binding: RUNDIR expanded in configured
    endpoints (docs/scale-out.md's), the secret key read and well-formed, the allow-list
    directory readable; each failure named, exit 78."""
    key = keygen(builddir, tmp_path / "frontend")
    allow = tmp_path / "workers.d"
    allow.mkdir()
    r = run(builddir, "sqdiff-httpd", "--config", front_end_conf(tmp_path, key + ".secret", allow), "--check")
    assert r.returncode == 0 and "configuration OK" in r.stdout, r.stderr
    r = run(builddir, "sqdiff-httpd", "--config", front_end_conf(tmp_path, key + ".secret", tmp_path / "nope"),
            "--check")
    assert r.returncode == 78 and "curve-allowed-keys" in r.stderr and "nope" in r.stderr, r.stderr
    bad = tmp_path / "bad.secret"
    bad.write_text("not a key\n")
    r = run(builddir, "sqdiff-httpd", "--config", front_end_conf(tmp_path, bad, allow), "--check")
    assert r.returncode == 78 and f"{bad}: not a key file" in r.stderr, r.stderr
    # A relative key is the unit's credential: not here, so not checked, and said so.
    r = run(builddir, "sqdiff-httpd", "--config", front_end_conf(tmp_path, "curve.secret", allow), "--check")
    assert r.returncode == 0 and "CREDENTIALS_DIRECTORY" in r.stderr, r.stderr


def test_check_reads_a_workers_keys(builddir, tmp_path):
    key = keygen(builddir, tmp_path / "worker-b")
    fe = keygen(builddir, tmp_path / "frontend")
    conf = tmp_path / "w.conf"
    for server, want in ((fe + ".pub", 0), (str(tmp_path / "missing.pub"), 78)):
        conf.write_text("[global]\njobs-sum-endpoint = tcp://198.51.100.1:5601\n"
                        "jobs-square-endpoint = tcp://198.51.100.1:5602\n"
                        f"curve-secret-key = {key}.secret\ncurve-server-public-key = {server}\n")
        r = run(builddir, "sqdiff-worker", "--config", str(conf), "--check")
        assert r.returncode == want, r.stderr
    assert "missing.pub" in r.stderr


@pytest.mark.parametrize("prog", ["sqdiff-httpd", "sqdiff-worker"])
def test_running_without_seccomp_is_said_at_every_start(builddir, tmp_path, prog):
    """SQDIFF_SECCOMP=0 (the sanitizer builds need it) turns the filters off: never silently."""
    import signal
    import time
    from suite import free_port
    args = (["--mode=local", "--listen", f"127.0.0.1:{free_port()}"] if prog == "sqdiff-httpd"
            else ["--kind=sum", f"--runtime-dir={tmp_path}"])
    p = subprocess.Popen([os.path.join(builddir, "src", prog), "--config", "/dev/null", *args],
                         stderr=subprocess.PIPE, text=True, env=dict(os.environ, SQDIFF_SECCOMP="0"))
    try:
        lines = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any("Ready" in line for line in lines):
            lines.append(p.stderr.readline())
            if not lines[-1]:
                break  # it exited
    finally:
        p.send_signal(signal.SIGTERM)
        p.communicate(timeout=20)
    assert any("warning: Running without seccomp filters: SQDIFF_SECCOMP=0 is set" in line for line in lines), lines
