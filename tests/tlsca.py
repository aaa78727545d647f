# SPDX-License-Identifier: MIT
"""A certificate authority of the tests' own, made with the openssl command: a CA, and
server certificates it signs for localhost (ECDSA P-256, the serial the test asks for),
as PEM files in a directory. Clients trust the CA's file (curl --cacert, ssl contexts)."""

import os
import ssl
import subprocess


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, text=True)


class TestCA:
    __test__ = False  # not a test class of pytest's

    def __init__(self, directory):
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        self.cert = os.path.join(directory, "ca.pem")
        _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ca.key", cwd=directory)
        _openssl("req", "-x509", "-new", "-key", "ca.key", "-subj", "/CN=sqdiff tests CA", "-days", "365",
                 "-out", "ca.pem", cwd=directory)

    def issue(self, name, serial, cn="localhost"):
        """A leaf certificate for localhost, 127.0.0.1 and ::1: returns (chain file, key file)."""
        key, csr, crt = f"{name}.key", f"{name}.csr", f"{name}.crt"
        with open(os.path.join(self.dir, f"{name}.ext"), "w") as f:
            # As a public CA's would: where to ask whether it was revoked (on loopback, never asked here).
            f.write("subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\nextendedKeyUsage=serverAuth\n"
                    "authorityInfoAccess=OCSP;URI:http://127.0.0.1:9/ocsp\n"
                    "crlDistributionPoints=URI:http://127.0.0.1:9/ca.crl\n")
        _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key, cwd=self.dir)
        _openssl("req", "-new", "-key", key, "-subj", f"/CN={cn}", "-out", csr, cwd=self.dir)
        _openssl("x509", "-req", "-in", csr, "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial", str(serial),
                 "-days", "90", "-extfile", f"{name}.ext", "-out", crt, cwd=self.dir)
        return os.path.join(self.dir, crt), os.path.join(self.dir, key)

    def client_context(self, alpn=None):
        ctx = ssl.create_default_context(cafile=self.cert)
        if alpn is not None:
            ctx.set_alpn_protocols(alpn)
        return ctx


def peer_serial(sock):
    """The serial number of the certificate a TLS socket's server showed."""
    der = sock.getpeercert(binary_form=True)
    out = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", "-serial"], input=der,
                         capture_output=True, check=True).stdout.decode()
    return int(out.strip().split("=", 1)[1], 16)
