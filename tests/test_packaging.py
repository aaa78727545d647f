"""The packages: the .deb's whole life cycle under systemd, the RPM's contents, the linters.

Once per session the fixtures build, from the work tree, the .deb at the project's
version and at a higher one (packaging/build-deb.sh) and the RPM (packaging/build-rpm.sh,
with Debian's rpmbuild). TestDebLifeCycle then runs, in order, on one SystemdBox
(tools/sdbox.py): apt installs the .deb, the rebuilt higher version replaces it while
clients keep sending requests, apt removes it, then purges it. The socket is moved to a
free port by a drop-in written before the installation, so the package's own start
already uses it (the box shares the host's network).

Needs root. Tools that are missing (debhelper, lintian, rpm, rpmlint, the build
dependencies...) are installed with apt-get by the fixtures; nothing is skipped.
"""

import gzip
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import pytest

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(1, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools"))

from sdbox import SystemdBox  # noqa: E402
from suite import free_port, wait_for  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONTROL = os.path.join(ROOT, "packaging", "debian", "control")
RPMLINT_CONFIG = os.path.join(ROOT, "packaging", "rpm", "rpmlint.toml")
UPGRADE_SUFFIX = "+test1"
APT_ENV = {"DEBIAN_FRONTEND": "noninteractive"}

# Units the packages enable and start, and those restarted on upgrade.
ENABLED_UNITS = ("sqdiff-httpd.socket", "sqdiff-worker@sum.service", "sqdiff-worker@square.service")
RESTARTED_UNITS = ("sqdiff-httpd.service", "sqdiff-worker@sum.service", "sqdiff-worker@square.service")
MAN_PAGES = ("man5/sqdiff.conf.5", "man7/sqdiff.7", "man8/sqdiff-httpd.8", "man8/sqdiff-worker.8",
             "man1/sqdiff-keygen.1")

# Packages the fixtures need besides the build dependencies of packaging/debian/control.
TOOLS = ("dpkg-dev", "debhelper", "lintian", "rpm", "rpmlint", "scdoc", "systemd-container",
         "curl", "man-db")


def run(cmd, check=True, env=None, timeout=600, **kw):
    """Runs cmd on the host; on failure, fails the test with what it printed."""
    full_env = dict(os.environ, LC_ALL="C.UTF-8")
    full_env.update(env or {})
    p = subprocess.run(cmd, capture_output=True, text=True, env=full_env, timeout=timeout, **kw)
    if check and p.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} exited with {p.returncode}\n--- stdout:\n{p.stdout[-4000:]}"
                    f"\n--- stderr:\n{p.stderr[-6000:]}", pytrace=False)
    return p


def build_dependencies():
    """Package names of Build-Depends in packaging/debian/control (first alternatives)."""
    with open(CONTROL) as f:
        text = f.read()
    field = re.search(r"^Build-Depends:(.*?)^(?=\S)", text, re.M | re.S).group(1)
    names = set()
    for dep in field.split(","):
        name = re.sub(r"\(.*?\)|\[.*?\]|<.*?>", "", dep.split("|")[0]).strip()
        if name.startswith(("debhelper-compat", "dh-sequence-")):
            name = "debhelper"  # virtual packages debhelper provides
        if name:
            names.add(name)
    return names


def ensure_packages(names):
    """Installs with apt-get those of names that are not installed."""
    missing = []
    for name in sorted(names):
        p = subprocess.run(["dpkg-query", "-W", "-f=${Status}", name], capture_output=True, text=True)
        if p.returncode != 0 or not p.stdout.endswith(" installed"):
            missing.append(name)
    if missing:
        run(["apt-get", "install", "-y", "-q", "--no-install-recommends",
             "-o", "DPkg::Lock::Timeout=300", *missing], env=APT_ENV)


@pytest.fixture(scope="session")
def tools():
    ensure_packages(set(TOOLS) | build_dependencies())


@pytest.fixture(scope="session")
def pkgdir():
    """Where the packages are built: under /var/tmp, which the boxes see through their
    overlay of "/" (their /tmp is their own)."""
    path = tempfile.mkdtemp(prefix="sqdiff-packages.", dir="/var/tmp")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def project_version():
    out = run(["meson", "introspect", "--projectinfo", os.path.join(ROOT, "meson.build")]).stdout
    return json.loads(out)["version"]


def built_path(p):
    """The path a build script printed last on stdout."""
    path = p.stdout.strip().splitlines()[-1]
    assert os.path.isfile(path), f"build script printed {path!r}, which is no file"
    return path


@pytest.fixture(scope="session")
def deb(tools, pkgdir, project_version):
    """The .deb of the work tree, at the project's version (unit tests run during the build)."""
    path = built_path(run([os.path.join(ROOT, "packaging", "build-deb.sh"), pkgdir]))
    assert os.path.basename(path).startswith(f"sqdiff_{project_version}_")
    return path


@pytest.fixture(scope="session")
def upgrade_deb(tools, pkgdir, project_version, deb):
    """The same tree rebuilt as a higher version, for the upgrade."""
    version = project_version + UPGRADE_SUFFIX
    path = built_path(run([os.path.join(ROOT, "packaging", "build-deb.sh"), pkgdir],
                          env={"SQDIFF_DEB_VERSION": version, "DEB_BUILD_OPTIONS": "nocheck"}))
    assert os.path.basename(path).startswith(f"sqdiff_{version}_")
    return path


@pytest.fixture(scope="session")
def rpms(tools, pkgdir, project_version):
    """(binary RPM, source RPM) of the work tree."""
    path = built_path(run([os.path.join(ROOT, "packaging", "build-rpm.sh"), pkgdir]))
    srpm = [os.path.join(pkgdir, f) for f in os.listdir(pkgdir) if f.endswith(".src.rpm")]
    assert len(srpm) == 1, srpm
    return path, srpm[0]


def deb_files(path):
    """Regular files and symlinks a .deb ships (dpkg -c), without the leading '.'."""
    out = run(["dpkg-deb", "-c", path]).stdout
    return {line.split(None, 5)[5].split(" -> ")[0][1:] for line in out.splitlines()
            if line[0] in "-l"}


def rpm_files(path):
    """Regular files and symlinks an RPM ships (rpm -qlp), without directories."""
    out = run(["rpm", "-qp", "--qf", "[%{FILEMODES:perms} %{FILENAMES}\n]", path]).stdout
    return {line.split(" ", 1)[1] for line in out.splitlines() if line[0] in "-l"}


def normalized(paths, distro):
    """Paths with the distributions' differences taken out: /lib is /usr/lib (merged /usr),
    no compression suffix, and the documentation each distribution adds dropped."""
    out = set()
    for p in paths:
        if p.startswith("/lib/"):
            p = "/usr" + p
        p = re.sub(r"\.(gz|bz2|xz|zst)$", "", p)
        if distro == "deb" and p in ("/usr/share/doc/sqdiff/changelog", "/usr/share/doc/sqdiff/copyright",
                                     "/usr/share/lintian/overrides/sqdiff"):
            continue
        if distro == "rpm":
            if p.startswith("/usr/lib/.build-id/"):
                continue
            p = re.sub(r"^/usr/share/(doc|licenses)/sqdiff-[^/]+/", r"/usr/share/\1/sqdiff/", p)
            if p == "/usr/share/licenses/sqdiff/LICENSE":
                continue  # the .deb's is /usr/share/doc/sqdiff/copyright
        out.add(p)
    return out


def deb_control_file(path, name, tmp_path):
    ctl = tmp_path / "control"
    run(["dpkg-deb", "-e", path, str(ctl)])
    return (ctl / name).read_text()


# --- linters ----------------------------------------------------------------------------------
def test_lintian_clean(deb):
    changes = deb[:-len(".deb")] + ".changes"
    p = run(["lintian", "--fail-on", "error,warning", changes], check=False)
    tags = [line for line in p.stdout.splitlines() if re.match(r"[EW]: ", line)]
    assert p.returncode == 0 and not tags, p.stdout + p.stderr


def test_rpmlint_clean(rpms):
    p = run(["rpmlint", "-c", RPMLINT_CONFIG, *rpms], check=False)
    assert p.returncode == 0, p.stdout + p.stderr
    assert re.search(r"\b0 errors, 0 warnings\b", p.stdout), p.stdout


# --- what the packages ship -------------------------------------------------------------------
def test_deb_contents(deb, tmp_path):
    files = deb_files(deb)
    for f in ("/usr/sbin/sqdiff-httpd", "/usr/sbin/sqdiff-worker", "/etc/sqdiff/sqdiff.conf",
              "/lib/systemd/system/sqdiff-httpd.socket", "/lib/systemd/system/sqdiff-httpd.service",
              "/lib/systemd/system/sqdiff-worker@.service", "/lib/systemd/system/sqdiff.target",
              "/usr/lib/sysusers.d/sqdiff.conf", "/usr/lib/systemd/catalog/sqdiff.catalog",
              "/usr/share/doc/sqdiff/copyright",
              # uncompressed: sqdiff.conf and sqdiff-keygen(1) send operators to it by this name
              "/usr/share/doc/sqdiff/scale-out.md"):
        assert f in files, f"{f} not in the .deb: {sorted(files)}"
    for page in MAN_PAGES:
        assert f"/usr/share/man/{page}.gz" in files
    assert deb_control_file(deb, "conffiles", tmp_path).split() == ["/etc/sqdiff/sqdiff.conf"]


def test_rpm_files_match_deb(deb, rpms):
    d, r = normalized(deb_files(deb), "deb"), normalized(rpm_files(rpms[0]), "rpm")
    assert d == r, f"only in the .deb: {sorted(d - r)}; only in the RPM: {sorted(r - d)}"
    assert "/usr/share/licenses/sqdiff-" in run(["rpm", "-qlp", rpms[0]]).stdout  # %license


def test_rpm_config_noreplace(rpms):
    out = run(["rpm", "-qp", "--qf", "[%{FILENAMES} %{FILEFLAGS:fflags}\n]", rpms[0]]).stdout
    flags = dict(line.rsplit(" ", 1) for line in out.splitlines() if " " in line)
    assert set(flags["/etc/sqdiff/sqdiff.conf"]) >= {"c", "n"}, out  # %config(noreplace)
    assert [f for f, fl in flags.items() if "c" in fl] == ["/etc/sqdiff/sqdiff.conf"]


def scriptlets(rpm):
    """{"preinstall": text, ...} from rpm -qp --scripts."""
    out = run(["rpm", "-qp", "--scripts", rpm]).stdout
    parts = re.split(r"^(\w+) scriptlet \(using [^)]*\):\n", out, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2]))


def units_in(text):
    return set(re.findall(r"sqdiff[\w@.-]*\.(?:service|socket|target)", text))


def test_rpm_scriptlets_match_deb(deb, rpms, tmp_path):
    s = scriptlets(rpms[0])
    assert set(s) >= {"preinstall", "postinstall", "preuninstall", "postuninstall"}, s.keys()
    # Users before the files land (sysusers, the Fedora way).
    assert "systemd-sysusers" in s["preinstall"] or "useradd" in s["preinstall"], s["preinstall"]
    assert "sqdiff-httpd" in s["preinstall"] and "sqdiff-worker" in s["preinstall"]
    # %systemd_post / %systemd_preun / %systemd_postun_with_restart.
    assert units_in(s["postinstall"]) == set(ENABLED_UNITS), s["postinstall"]
    assert units_in(s["preuninstall"]) >= set(ENABLED_UNITS) | {"sqdiff-httpd.service"}, s["preuninstall"]
    assert units_in(s["postuninstall"]) == set(RESTARTED_UNITS), s["postuninstall"]

    # The .deb handles the same units: enables and starts ENABLED_UNITS, restarts
    # RESTARTED_UNITS on upgrade (never the socket), stops them all on removal.
    postinst = deb_control_file(deb, "postinst", tmp_path)
    assert re.search(r"deb-systemd-helper enable 'sqdiff-httpd.socket'", postinst), postinst
    assert re.search(r"deb-systemd-invoke start 'sqdiff-httpd.socket'", postinst), postinst
    assert "systemd-sysusers" in postinst and "sqdiff.conf" in postinst
    assert set(ENABLED_UNITS) - {"sqdiff-httpd.socket"} <= units_in(postinst)
    restart = [line for line in postinst.splitlines() if "try-restart" in line or "restart " in line]
    assert restart and all("sqdiff-httpd.socket" not in line for line in restart), restart
    prerm = deb_control_file(deb, "prerm", tmp_path)
    assert units_in(prerm) >= set(ENABLED_UNITS) | {"sqdiff-httpd.service"}, prerm


def man_text(deb, page, tmp_path):
    with gzip.open(tmp_path / "root" / "usr/share/man" / f"{page}.gz", "rt") as f:
        return f.read().replace("\\-", "-")


def test_man_pages_match_cli(deb, tmp_path):
    """Every option of --help and every setting of the shipped sqdiff.conf is documented."""
    run(["dpkg-deb", "-x", deb, str(tmp_path / "root")])
    keys = None
    for prog in ("sqdiff-httpd", "sqdiff-worker"):
        page = man_text(deb, f"man8/{prog}.8", tmp_path)
        help_text = run([str(tmp_path / "root/usr/sbin" / prog), "--help"]).stdout
        options = set(re.findall(r"(?<![\w-])--[a-z][a-z-]+", help_text))
        assert len(options) > 10, help_text
        undocumented = sorted(o for o in options if o not in page)
        assert not undocumented, f"{prog}(8) lacks {undocumented}"
        # every setting is also an option: those after the help's "can be overridden" line
        keys = set(re.findall(r"^\s+--([a-z][a-z-]+)\s", help_text.split("can be overridden", 1)[1], re.M))
    conf = (tmp_path / "root/etc/sqdiff/sqdiff.conf").read_text()
    settings = set(re.findall(r"^#?([a-z][a-z-]+) = ", conf, re.M))
    page = man_text(deb, "man5/sqdiff.conf.5", tmp_path)
    assert settings == keys, f"the shipped sqdiff.conf shows {sorted(settings)}, the program has {sorted(keys)}"
    assert not sorted(s for s in settings if s not in page), settings
    for page in MAN_PAGES:
        p = run(["man", "--warnings", "-l", "-Tutf8", "-Z", str(tmp_path / "root/usr/share/man" / f"{page}.gz")],
                env={"MANROFFSEQ": "", "MANWIDTH": "80"})
        assert not p.stderr.strip(), f"{page}: {p.stderr}"


# --- the .deb's life cycle under systemd --------------------------------------------------------
def expected(numbers):
    s, q = sum(n * n for n in numbers), sum(numbers) ** 2
    return {"sum": s, "square": q, "diff": q - s}


class Clients:
    """Threads that send requests (a new connection each) and check every answer."""

    def __init__(self, port, n=4):
        self.port = port
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.ok = 0
        self.failures = []
        self.threads = [threading.Thread(target=self._loop, args=(i,), daemon=True) for i in range(n)]

    def _loop(self, seed):
        rng = random.Random(seed)
        while not self.stop.is_set():
            numbers = [rng.randint(-2**63, 2**63 - 1) if rng.random() < 0.2 else rng.randint(-1000, 1000)
                       for _ in range(rng.randint(1, 5))]
            query = "&".join(f"n={n}" for n in numbers)
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/?{query}", timeout=30) as r:
                    body = json.loads(r.read())
                good = body == expected(numbers)
                failure = None if good else f"{query} -> {body}"
            except Exception as e:  # noqa: BLE001 - any failure counts
                failure = f"{query} -> {e!r}"
            with self.lock:
                if failure:
                    self.failures.append((time.strftime("%T"), failure))
                else:
                    self.ok += 1

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=60)


def port_open(port):
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="class")
def life(deb, upgrade_deb, pkgdir):
    """A box with the socket moved to a free port, and the steps done so far."""
    port = free_port()
    box = SystemdBox(expose=(pkgdir,))
    try:
        box.write_file("/etc/systemd/system/sqdiff-httpd.socket.d/50-test-port.conf",
                       f"[Socket]\nListenStream=\nListenStream=127.0.0.1:{port}\n")
        yield {"box": box, "port": port, "done": []}
    finally:
        box.close()


def apt(box, *args):
    return box.run(["apt-get", "-y", "-q", *args], env=APT_ENV, timeout=300)


def journal_tail(box):
    return box.journal("-n", "40", "-o", "short-monotonic", units=("sqdiff*",))


# --- debian/tests: the package's autopkgtests, run in a box ----------------------------------

AUTOPKGTEST_DIR = os.path.join(ROOT, "packaging", "debian", "tests")
# What a systemd box gives a test, as autopkgtest's container runners would.
AUTOPKGTEST_RESTRICTIONS = {"needs-root", "isolation-container", "allow-stderr"}


def autopkgtests():
    """[(name, depends, restrictions)] from debian/tests/control (deb822, '#' comments)."""
    with open(os.path.join(AUTOPKGTEST_DIR, "control")) as f:
        text = "\n".join(line for line in f.read().splitlines() if not line.startswith("#"))
    tests = []
    for stanza in re.split(r"\n\s*\n", text.strip()):
        fields, key = {}, None
        for line in stanza.splitlines():
            if line[:1].isspace() and key:
                fields[key] += " " + line.strip()
            else:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        for name in fields["Tests"].replace(",", " ").split():
            depends = [d.strip() for d in fields.get("Depends", "@").split(",") if d.strip()]
            tests.append((name, depends, set(fields.get("Restrictions", "").replace(",", " ").split())))
    return tests


def test_autopkgtest(deb, pkgdir):
    """The package's own autopkgtests, as autopkgtest runs them in a container: the .deb
    installed with apt in a fresh box (the socket moved to a free port), each test's other
    dependencies installed, then the test run as root from the source tree with
    $AUTOPKGTEST_TMP; it fails on a non-zero exit and, without allow-stderr, on any stderr."""
    tests = autopkgtests()
    assert tests, "debian/tests/control lists no test"
    port = free_port()
    with SystemdBox(expose=(pkgdir, ROOT)) as box:
        box.write_file("/etc/systemd/system/sqdiff-httpd.socket.d/50-test-port.conf",
                       f"[Socket]\nListenStream=\nListenStream=127.0.0.1:{port}\n")
        apt(box, "install", deb)
        for name, depends, restrictions in tests:
            assert restrictions <= AUTOPKGTEST_RESTRICTIONS, f"{name}: {restrictions - AUTOPKGTEST_RESTRICTIONS}"
            others = [d for d in depends if d not in ("@", "sqdiff")]
            if others:
                apt(box, "install", *others)
            tmp = box.run(["mktemp", "-d"]).stdout.strip()
            p = box.run(["/bin/sh", "-c", 'cd "$1" && exec "$2"', "sh", ROOT, os.path.join(AUTOPKGTEST_DIR, name)],
                        check=False, env={"AUTOPKGTEST_TMP": tmp}, timeout=300)
            report = f"--- stdout:\n{p.stdout[-3000:]}\n--- stderr:\n{p.stderr[-3000:]}"
            assert p.returncode == 0, f"debian/tests/{name} exited with {p.returncode}\n{report}"
            assert not p.stderr or "allow-stderr" in restrictions, f"debian/tests/{name} wrote to stderr\n{report}"


class TestDebLifeCycle:
    """Runs in order: install, upgrade, remove, purge."""

    @staticmethod
    def require(life, step):
        if step not in life["done"]:
            pytest.fail(f"needs the step {step!r}, which failed", pytrace=False)

    def test_install(self, life, deb):
        box, port = life["box"], life["port"]
        apt(box, "install", deb)
        for unit in ENABLED_UNITS:
            assert box.systemctl("is-enabled", unit, check=False).strip() == "enabled", unit
            assert box.systemctl("is-active", unit, check=False).strip() == "active", \
                f"{unit} is not active\n{journal_tail(box)}"
        for user in ("sqdiff-httpd", "sqdiff-worker"):
            groups = box.run(["id", "-nG", user]).stdout.split()
            assert "sqdiff" in groups, (user, groups)
        out = box.run(["curl", "-sS", "--max-time", "10", f"http://127.0.0.1:{port}/?n=1&n=2&n=3"], check=False)
        assert out.stdout == '{"sum":14,"square":36,"diff":22}', f"{out}\n{journal_tail(box)}"
        # systemd's file trigger compiled the catalog; the man pages are in place.
        assert "sqdiff-httpd is ready" in box.run(["journalctl", "--list-catalog"]).stdout
        assert box.run(["man", "-w", "sqdiff-httpd"]).stdout.strip().endswith("sqdiff-httpd.8.gz")
        life["done"].append("install")

    def test_upgrade_under_load(self, life, upgrade_deb):
        self.require(life, "install")
        box, port = life["box"], life["port"]
        conf = box.path("/etc/sqdiff/sqdiff.conf")
        with open(conf, "a") as f:
            f.write("\n# Edited locally.\n[httpd]\nmax-pending = 5000\n")
        with open(conf) as f:
            edited = f.read()
        version = lambda: box.run(["dpkg-query", "-W", "-f=${Version}", "sqdiff"]).stdout  # noqa: E731
        before = {u: box.show(u, "MainPID", "ExecMainStartTimestampMonotonic") for u in RESTARTED_UNITS}

        with Clients(port) as clients:
            wait_for(lambda: clients.ok >= 20, 30, "the clients' first answers")
            ok_before = clients.ok
            apt(box, "install", upgrade_deb)
            ok_upgraded = clients.ok
            wait_for(lambda: clients.ok >= max(ok_upgraded + 20, ok_before + 51), 30,
                     "answers from the upgraded suite")
        assert version() == os.path.basename(upgrade_deb).split("_")[1]
        assert not clients.failures, \
            f"{len(clients.failures)} failed requests: {clients.failures[:10]}\n{journal_tail(box)}"
        assert ok_before > 0 and clients.ok > ok_before + 50, (ok_before, clients.ok)
        # The new binaries run: the front end and both workers were restarted, the socket stayed.
        for unit in RESTARTED_UNITS:
            now = box.show(unit, "MainPID", "ExecMainStartTimestampMonotonic")
            assert now["MainPID"] != "0" and now != before[unit], (unit, before[unit], now)
            assert box.systemctl("is-active", unit, check=False).strip() == "active", unit
        with open(conf) as f:
            assert f.read() == edited, "the locally edited conffile was not kept"
        assert not os.path.exists(conf + ".dpkg-dist") and not os.path.exists(conf + ".dpkg-new")
        life["done"].append("upgrade")

    def test_remove(self, life):
        self.require(life, "install")
        box, port = life["box"], life["port"]
        apt(box, "remove", "sqdiff")
        for unit in ENABLED_UNITS + ("sqdiff-httpd.service",):
            assert box.systemctl("is-active", unit, check=False).strip() in ("inactive", "unknown"), unit
        assert not port_open(port), f"port {port} still open after removal"
        assert not os.path.exists(box.path("/usr/sbin/sqdiff-httpd"))
        assert os.path.exists(box.path("/etc/sqdiff/sqdiff.conf")), "remove must keep the conffile"
        assert box.run(["dpkg-query", "-W", "-f=${db:Status-Abbrev}", "sqdiff"]).stdout.strip() == "rc"
        life["done"].append("remove")

    def test_purge(self, life):
        self.require(life, "remove")
        box = life["box"]
        apt(box, "purge", "sqdiff")
        assert not os.path.exists(box.path("/etc/sqdiff")), os.listdir(box.path("/etc/sqdiff"))
        assert not os.path.exists(box.path("/run/sqdiff"))
        left = box.run("find /etc/systemd/system /var/lib/systemd/deb-systemd-helper-enabled "
                       "/var/lib/systemd/deb-systemd-helper-masked -name '*sqdiff*' "
                       "! -path '*/sqdiff-httpd.socket.d*' 2>/dev/null || true").stdout
        assert not left.strip(), f"left after purge:\n{left}"
        assert box.run(["dpkg-query", "-W", "sqdiff"], check=False).returncode != 0
        # The system users stay, as is usual in Debian (files may still belong to them).
        assert box.run(["getent", "passwd", "sqdiff-httpd"], check=False).returncode == 0
