"""`apt install sqdiff` by name from the signed repository `make repo` builds.

The fixtures make two throwaway signing keys (gpg --quick-gen-key, no passphrase, each in a
GNUPGHOME of its own), build two repositories with packaging/build-repo.sh (one signed with
each key) from the .deb and its source package (SQDIFF_DEB, as `make test` builds it, or
built here), and serve them over HTTP on 127.0.0.1 from this process; a SystemdBox shares
the host's network, so apt inside reaches them. The box's own apt sources (the host's) are
hidden in its overlay: apt talks to nothing but the test's server.

TestRepository then runs, in order, on one box configured as the README tells operators
(the key in /etc/apt/keyrings/, the deb822 .sources file copied from README.md):
  the repository signed with the other key is refused, and sqdiff is not found by name;
  the right one: `apt install sqdiff` by name, and the README's curl example answers;
  a higher version published to it: `apt upgrade` while clients send requests, none failing.

SQDIFF_TARGET=systemd only. Needs root; reprepro and gnupg are installed if missing.
"""

import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from conftest import TARGET  # noqa: E402
from sdbox import SystemdBox  # noqa: E402
from suite import free_port, wait_for  # noqa: E402
from test_packaging import APT_ENV, Clients, ensure_packages, journal_tail, run  # noqa: E402

pytestmark = pytest.mark.skipif(TARGET != "systemd", reason="boots its own systemd box (SQDIFF_TARGET=systemd)")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD_REPO = os.path.join(ROOT, "packaging", "build-repo.sh")
KEYRING = "/etc/apt/keyrings/sqdiff.asc"
SOURCES = "/etc/apt/sources.list.d/sqdiff.sources"
UPGRADE_SUFFIX = "+repo1"
EXAMPLE = '{"sum":14,"square":36,"diff":22}'


def readme_sources(url):
    """The deb822 stanza of README.md's repository instructions, with its URIs: set to url."""
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    m = re.search(r"^ *Types: deb\n(?: +\S.*\n)*? *Signed-By: .*\n", text, re.M)
    assert m, "README.md has no deb822 stanza (Types: ... Signed-By:) for the repository"
    lines = [line.strip() for line in m.group(0).splitlines()]
    assert f"Signed-By: {KEYRING}" in lines, lines
    uris = [i for i, line in enumerate(lines) if line.startswith("URIs:")]
    assert len(uris) == 1, lines
    lines[uris[0]] = f"URIs: {url}"
    return "\n".join(lines) + "\n"


# --- keys, packages, repositories ---------------------------------------------------------------
class Key:
    """A throwaway signing key in a GNUPGHOME of its own."""

    def __init__(self, name):
        # Short path: gpg-agent's socket lives there.
        self.home = tempfile.mkdtemp(prefix="gpg.", dir="/tmp")
        self.env = {"GNUPGHOME": self.home}
        run(["gpg", "--batch", "--passphrase", "", "--quick-gen-key",
             f"sqdiff {name} <{name}@example.org>", "ed25519", "sign", "never"], env=self.env)
        out = run(["gpg", "--batch", "--with-colons", "--list-secret-keys"], env=self.env).stdout
        self.fingerprint = next(line.split(":")[9] for line in out.splitlines() if line.startswith("fpr:"))

    def close(self):
        # The agent gpg started for this home, by its socket there.
        subprocess.run(["gpgconf", "--kill", "gpg-agent"], env=dict(os.environ, **self.env),
                       capture_output=True)
        shutil.rmtree(self.home, ignore_errors=True)


@pytest.fixture(scope="module")
def keys():
    ensure_packages({"reprepro", "gnupg", "gpgv", "curl", "dpkg-dev", "debhelper", "systemd-container"})
    made = []
    try:
        for name in ("release", "stranger"):
            made.append(Key(name))
        yield {k: made[i] for i, k in enumerate(("release", "stranger"))}
    finally:
        for k in made:
            k.close()


@pytest.fixture(scope="module")
def workdir():
    path = tempfile.mkdtemp(prefix="sqdiff-repo.", dir="/var/tmp")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def packages(keys, workdir):
    """(.deb, .dsc, higher .deb): the package and its source, and the same repacked as a higher
    version (dpkg-deb: only the control file's Version: changes)."""
    deb = os.environ.get("SQDIFF_DEB")
    if not deb:
        out = run([os.path.join(ROOT, "packaging", "build-deb.sh"), os.path.join(workdir, "build")],
                  env={"DEB_BUILD_OPTIONS": "nocheck"}).stdout
        deb = out.strip().splitlines()[-1]
    deb = os.path.abspath(deb)
    name, version, _ = os.path.basename(deb).split("_")
    dsc = os.path.join(os.path.dirname(deb), f"{name}_{version}.dsc")
    assert os.path.isfile(dsc), f"no source package {dsc} beside {deb}"
    tree = os.path.join(workdir, "repack")
    run(["dpkg-deb", "-R", deb, tree])
    control = os.path.join(tree, "DEBIAN", "control")
    with open(control) as f:
        text = f.read()
    higher = version + UPGRADE_SUFFIX
    with open(control, "w") as f:
        f.write(re.sub(r"^Version: .*$", f"Version: {higher}", text, count=1, flags=re.M))
    up = os.path.join(workdir, os.path.basename(deb).replace(f"_{version}_", f"_{higher}_"))
    run(["dpkg-deb", "--build", "-Zxz", tree, up])
    shutil.rmtree(tree)
    return deb, dsc, up


def build_repo(path, key, *files):
    return run([BUILD_REPO, path, *files], env=dict(key.env, REPO_KEY=key.fingerprint)).stdout


@pytest.fixture(scope="module")
def served(keys, packages, workdir):
    """The repositories under http://127.0.0.1:PORT/: good/ (the release key) and
    stranger/ (the same packages, signed with the other key)."""
    deb, dsc, _ = packages
    top = os.path.join(workdir, "www")
    build_repo(os.path.join(top, "good"), keys["release"], deb, dsc)
    build_repo(os.path.join(top, "stranger"), keys["stranger"], deb)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=top))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield {"top": top, "url": f"http://127.0.0.1:{server.server_address[1]}"}
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_repository_holds_the_binary_and_the_source(served, packages):
    good = os.path.join(served["top"], "good")
    deb, dsc, _ = packages
    version = os.path.basename(deb).split("_")[1]
    listed = run(["reprepro", "-b", good, "list", "bookworm"]).stdout
    assert f"bookworm|main|source: sqdiff {version}" in listed, listed
    assert re.search(rf"bookworm\|main\|\S+: sqdiff {re.escape(version)}\n", listed), listed
    for f in (os.path.basename(deb), os.path.basename(dsc)):
        assert os.path.isfile(os.path.join(good, "pool", "main", "s", "sqdiff", f)), f
    # Signed both ways apt reads, by the release key only.
    for name in ("InRelease", "Release.gpg"):
        assert os.path.isfile(os.path.join(good, "dists", "bookworm", name)), name
    with open(os.path.join(good, "dists", "bookworm", "Release")) as f:
        release = f.read()
    assert "Codename: bookworm" in release and "main/source/Sources" in release, release


@pytest.fixture(scope="module")
def box(served):
    port = free_port()
    b = SystemdBox()
    try:
        b.write_file("/etc/systemd/system/sqdiff-httpd.socket.d/50-test-port.conf",
                     f"[Socket]\nListenStream=\nListenStream=127.0.0.1:{port}\n")
        # apt in the box talks to the test's server only: the host's sources are hidden.
        b.run("rm -f /etc/apt/sources.list /etc/apt/sources.list.d/*")
        # As the README says: the release key in /etc/apt/keyrings/.
        b.run(["install", "-d", "-m", "0755", "/etc/apt/keyrings"])
        b.run(["curl", "-fsS", "-o", KEYRING, served["url"] + "/good/sqdiff.asc"])
        yield {"box": b, "port": port, "done": []}
    finally:
        b.close()


def apt(box, *args, check=True):
    return box.run(["apt-get", "-q", "-o", "Dpkg::Use-Pty=0", *args], env=APT_ENV, timeout=300, check=check)


def use_repository(box, url):
    box.write_file(SOURCES, readme_sources(url))


def installed_version(box):
    p = box.run(["dpkg-query", "-W", "-f=${Version}", "sqdiff"], check=False)
    return p.stdout if p.returncode == 0 else None


class TestRepository:
    """In order: refused, installed by name, upgraded under load."""

    @staticmethod
    def require(box, step):
        if step not in box["done"]:
            pytest.fail(f"needs the step {step!r}, which failed", pytrace=False)

    def test_repository_signed_with_another_key_is_refused(self, box, served, keys):
        b = box["box"]
        use_repository(b, served["url"] + "/stranger")
        p = apt(b, "update", check=False)
        out = p.stdout + p.stderr
        assert p.returncode != 0, out
        assert f"NO_PUBKEY {keys['stranger'].fingerprint[-16:]}" in out and "is not signed" in out, out
        p = apt(b, "install", "-y", "sqdiff", check=False)
        assert p.returncode != 0 and "Unable to locate package sqdiff" in p.stdout + p.stderr, p
        assert installed_version(b) is None
        box["done"].append("refused")

    def test_install_by_name(self, box, served, packages):
        b, port = box["box"], box["port"]
        use_repository(b, served["url"] + "/good")
        p = apt(b, "update")
        assert not re.search(r"^(W|E|Err):", p.stdout + p.stderr, re.M), p.stdout + p.stderr
        policy = b.run(["apt-cache", "policy", "sqdiff"]).stdout
        assert served["url"] + "/good bookworm/main" in policy, policy
        apt(b, "install", "-y", "sqdiff")
        assert installed_version(b) == os.path.basename(packages[0]).split("_")[1]
        out = b.run(["curl", "-sS", "--max-time", "10", f"http://localhost:{port}/?n=1&n=2&n=3"], check=False)
        assert out.stdout == EXAMPLE, f"{out}\n{journal_tail(b)}"
        box["done"].append("install")

    def test_upgrade_from_the_repository_under_load(self, box, served, keys, packages):
        self.require(box, "install")
        b, port = box["box"], box["port"]
        higher = os.path.basename(packages[2]).split("_")[1]
        build_repo(os.path.join(served["top"], "good"), keys["release"], packages[2])
        with Clients(port) as clients:
            wait_for(lambda: clients.ok >= 20 or clients.failures, 60, "the clients' first answers")
            before = clients.ok
            apt(b, "update")
            p = apt(b, "upgrade", "-y")
            assert installed_version(b) == higher, p.stdout
            during = clients.ok
            wait_for(lambda: clients.ok >= during + 20 or clients.failures, 60, "answers after the upgrade")
        print(f"\nupgrade under load: {clients.ok} requests answered ({clients.ok - before} from the "
              f"start of apt update to the end), {len(clients.failures)} failed")
        assert not clients.failures, \
            f"{len(clients.failures)} failed requests of {clients.ok + len(clients.failures)}: " \
            f"{clients.failures[:10]}\n{journal_tail(b)}"
        assert during > before, (before, during)
        for unit in ("sqdiff-httpd.service", "sqdiff-worker@sum.service", "sqdiff-worker@square.service"):
            assert b.systemctl("is-active", unit, check=False).strip() == "active", unit
