"""``facehealth serve --ssl-certfile/--ssl-keyfile``: the service over HTTPS with a self-signed certificate."""

from __future__ import annotations

import datetime as dt
import json
import ssl
import subprocess
import sys
import time
import urllib.request

from typer.testing import CliRunner

from facehealth.cli import app
from tests.serve.conftest import SRC, free_port


def _self_signed(folder):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def test_the_service_answers_over_https_with_the_given_certificate(tmp_path, monkeypatch):
    cert, key = _self_signed(tmp_path)
    port = free_port()
    env = {"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"}
    cmd = [sys.executable, "-m", "facehealth.cli", "serve", "--port", str(port), "--data-dir", str(tmp_path / "d")]
    cmd += ["--ssl-certfile", str(cert), "--ssl-keyfile", str(key)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    context = ssl.create_default_context(cafile=str(cert))
    try:
        deadline, body = time.monotonic() + 60, None
        while time.monotonic() < deadline and body is None:
            try:
                with urllib.request.urlopen(f"https://localhost:{port}/health", context=context, timeout=5) as r:
                    body = json.loads(r.read())
            except OSError:
                assert proc.poll() is None, proc.stdout.read().decode()
                time.sleep(0.3)
        assert body == {"status": "ok"}
        try:  # plain HTTP on the HTTPS port gets no answer
            urllib.request.urlopen(f"http://localhost:{port}/health", timeout=5)
            raise AssertionError("plain HTTP was answered")
        except OSError:
            pass
    finally:
        proc.terminate()
        proc.wait(10)
    assert b"https://127.0.0.1" in proc.stdout.read()


def test_https_needs_both_files(tmp_path):
    cert, _ = _self_signed(tmp_path)
    result = CliRunner().invoke(app, ["serve", "--data-dir", str(tmp_path), "--ssl-certfile", str(cert)])
    assert result.exit_code == 2 and "both --ssl-certfile and --ssl-keyfile" in result.output
