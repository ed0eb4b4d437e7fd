"""https through the guard: the connection goes to the checked IP, while SNI and certificate verification use
the URL's host name (a certificate for another name is refused)."""

from __future__ import annotations

import datetime
import ssl
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread

import httpx
import pytest

from tutela.net import FetchFailed, fetch

x509 = pytest.importorskip("cryptography.x509")
hashes = pytest.importorskip("cryptography.hazmat.primitives.hashes")
serialization = pytest.importorskip("cryptography.hazmat.primitives.serialization")
ec = pytest.importorskip("cryptography.hazmat.primitives.asymmetric.ec")
NameOID = x509.oid.NameOID

HOST = "platform.test"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = str(self.headers["Host"]).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


def _self_signed(directory: Path, name: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path, list[str | None]]]:
    cert_path, key_path = _self_signed(tmp_path_factory.mktemp("tls"), HOST)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    server_names: list[str | None] = []
    context.sni_callback = lambda _socket, name, _context: server_names.append(name)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield httpd.server_address[1], cert_path, server_names
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def test_https_connects_to_the_checked_ip_and_verifies_the_host_name(
    tls_server: tuple[int, Path, list[str | None]],
) -> None:
    port, cert_path, server_names = tls_server
    trust = ssl.create_default_context(cafile=str(cert_path))
    body = fetch(
        f"https://{HOST}:{port}/ok",
        max_bytes=1_000,
        timeout=5,
        allow_private=True,
        transport=httpx.HTTPTransport(verify=trust),
        resolver=lambda host, _port: {HOST: ["127.0.0.1"]}[host],
    )
    assert body.decode() == f"{HOST}:{port}"
    assert server_names[-1] == HOST


def test_certificate_for_another_name_is_refused(tls_server: tuple[int, Path, list[str | None]]) -> None:
    port, cert_path, _ = tls_server
    trust = ssl.create_default_context(cafile=str(cert_path))
    with pytest.raises(FetchFailed, match=r"CERTIFICATE_VERIFY_FAILED|[Hh]ostname mismatch"):
        fetch(
            f"https://other.test:{port}/ok",
            max_bytes=1_000,
            timeout=5,
            allow_private=True,
            transport=httpx.HTTPTransport(verify=trust),
            resolver=lambda _host, _port: ["127.0.0.1"],
        )
