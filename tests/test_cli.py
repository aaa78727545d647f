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
    assert r.returncode != 0
    assert f"{conf}:{line}: " in r.stderr
    assert needle in r.stderr


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
    r = run(builddir, "sqdiff-worker", "--config", "/dev/null", "--kind=diff")
    assert r.returncode != 0 and "diff" in r.stderr


def test_httpd_without_sockets_says_how_to_start_it(builddir):
    r = run(builddir, "sqdiff-httpd", "--config", "/dev/null")
    assert r.returncode != 0 and "--listen" in r.stderr


def test_help_lists_every_setting(builddir):
    r = run(builddir, "sqdiff-httpd", "--help")
    assert r.returncode == 0
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
