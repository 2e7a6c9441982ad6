"""Real servers for the alert tests: an SMTP server (aiosmtpd) that can be stopped, started
and held in its DATA window, and an HTTP(S) webhook receiver that can answer what a test
asks and be slow."""

import asyncio
import email
import email.policy
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Mail:
    to: list[str]
    subject: str
    text: str
    message_id: str
    arrived: float  # time.time() when the server had the whole message


class MailServer:
    """A real SMTP server on a fixed free port that can be stopped, started and held."""

    def __init__(self) -> None:
        self.port = free_port()
        self.mails: list[Mail] = []
        self.arrived = threading.Condition()
        self.hold = threading.Event()  # while set, a message is kept but not yet answered
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        self.hold.clear()
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body = message.get_body(preferencelist=("plain",))  # type: ignore[attr-defined]
        assert body is not None
        mail = Mail(
            list(envelope.rcpt_tos),
            str(message["subject"]),
            body.get_content(),
            str(message["message-id"]),
            time.time(),
        )
        with self.arrived:
            self.mails.append(mail)
            self.arrived.notify_all()
        while self.hold.is_set():
            await asyncio.sleep(0.02)
        return "250 OK"

    def wait_for(self, check: Callable[[list[Mail]], bool] | int, timeout: float = 30) -> bool:
        test = check if callable(check) else (lambda mails: len(mails) >= check)
        with self.arrived:
            return self.arrived.wait_for(lambda: test(self.mails), timeout)

    def subjects(self) -> list[str]:
        return [mail.subject for mail in self.mails]

    def url(self, to: str) -> str:
        return (
            f"mailto://127.0.0.1:{self.port}?mode=insecure&from=idflow@gemeente.example"
            f"&to={to}&cto=5"
        )


class Webhook:
    """A real HTTP receiver: every JSON body posted is kept with the answer it got.

    ``answer(body)`` gives the HTTP status (200 unless a test says otherwise); ``delay``
    makes each answer that slow (a slow channel); ``tls`` serves HTTPS."""

    def __init__(
        self,
        answer: Callable[[dict[str, Any]], int] = lambda body: 200,
        delay: float = 0.0,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.received: list[tuple[int, dict[str, Any]]] = []
        self.lock = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length", 0))
                body = {"path": self.path} | json.loads(self.rfile.read(length))
                if delay:
                    time.sleep(delay)  # the receiver is slow, not the test
                status = answer(body)
                with receiver.lock:
                    receiver.received.append((status, body))
                    receiver.lock.notify_all()
                self.send_response(status)
                self.end_headers()
                if status != 200:
                    self.wfile.write(b"ongeldige kaart")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def posts(self) -> list[dict[str, Any]]:
        """The bodies the receiver accepted (200)."""
        with self.lock:
            return [body for status, body in self.received if status == 200]

    def wait_for(self, count: int, timeout: float = 60) -> bool:
        with self.lock:
            return self.lock.wait_for(lambda: len(self.received) >= count, timeout)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def self_signed_tls(folder: Path) -> ssl.SSLContext:
    """A server TLS context with a fresh self-signed certificate for 127.0.0.1."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert, secret = folder / "cert.pem", folder / "key.pem"
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    secret.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, secret)
    return context
