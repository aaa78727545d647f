"""Hosts made of Linux network namespaces, for the multi-host tests (tests/test_scaleout.py).

A Net is a bridge in a namespace of its own and one namespace per host, each joined to the
bridge by a veth pair, with an address from 198.18.0.0/15 (RFC 2544's range for network
tests: it exists only inside these namespaces; nothing is routed to the machine's network).
Namespaces are named after this process's pid, so parallel runs do not meet. Everything is
torn down by close() (a context manager calls it), also when a test fails; processes
started in the hosts are ended by their pid first.
"""

import os
import signal
import subprocess
import time

PASSENV = ("SQDIFF_SECCOMP", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS")


def ip(*args, check=True):
    r = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=20)
    if check and r.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {r.stderr.strip()}")
    return r


class Host:
    def __init__(self, net, name, address):
        self.net, self.name, self.address = net, name, address
        self.ns = f"{net.prefix}-{name}"

    def popen(self, argv, stdout=None, env=None, stdin=None):
        """Starts argv inside this host (ip netns exec execs it: the pid is the program's); stdin:
        text to write to it."""
        e = {k: v for k, v in os.environ.items() if k in PASSENV or k in ("PATH", "HOME", "LANG")}
        e.update(env or {})
        p = subprocess.Popen(["ip", "netns", "exec", self.ns, *argv], stdout=stdout or subprocess.DEVNULL,
                             stderr=subprocess.STDOUT if stdout and stdout != subprocess.PIPE else subprocess.DEVNULL,
                             stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL, env=e,
                             start_new_session=True)
        self.net.procs.append(p)
        if stdin is not None:
            p.stdin.write(stdin.encode())
            p.stdin.close()
            p.stdin = None
        return p

    def run(self, argv, timeout=120, input=None):
        return subprocess.run(["ip", "netns", "exec", self.ns, *argv], capture_output=True, text=True,
                              timeout=timeout, input=input)

    def link(self, up):
        """Cuts this host's link (as a pulled cable: no FIN, no RST), or restores it."""
        ip("-n", self.ns, "link", "set", "eth0", "up" if up else "down")


class Net:
    def __init__(self, hosts):
        """hosts: {name: last octet of its address in 198.18.0.0/24}."""
        self.prefix = f"sqn{os.getpid()}"
        self.bridge_ns = f"{self.prefix}-br"
        self.hosts, self.procs, self.made = {}, [], []
        try:
            self._add_ns(self.bridge_ns)
            ip("-n", self.bridge_ns, "link", "add", "br0", "type", "bridge")
            ip("-n", self.bridge_ns, "link", "set", "br0", "up")
            for i, (name, octet) in enumerate(hosts.items()):
                h = Host(self, name, f"198.18.0.{octet}")
                self._add_ns(h.ns)
                veth = f"v{i}"
                ip("-n", self.bridge_ns, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", h.ns)
                ip("-n", self.bridge_ns, "link", "set", veth, "master", "br0", "up")
                ip("-n", h.ns, "addr", "add", f"{h.address}/24", "dev", "eth0")
                ip("-n", h.ns, "link", "set", "eth0", "up")
                ip("-n", h.ns, "link", "set", "lo", "up")
                self.hosts[name] = h
        except BaseException:
            self.close()
            raise

    def _add_ns(self, ns):
        ip("netns", "add", ns)
        self.made.append(ns)

    def __getitem__(self, name):
        return self.hosts[name]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                os.kill(p.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for p in self.procs:
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.kill(p.pid, signal.SIGKILL)
                p.wait(5)
        self.procs = []
        for ns in reversed(self.made):
            ip("netns", "del", ns, check=False)
        self.made = []
