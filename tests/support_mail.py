"""A real SMTP server for the mail tests: aiosmtpd on 127.0.0.1, collecting what it is sent.

Nothing here imitates smtplib: the app's mail service talks SMTP over a socket to this server,
which can refuse recipients, answer a message with an error, or ask for a login, as a clinic's
server would. Use the ``smtp_server`` fixture (a running server) or ``start_smtp_server`` for one
with other settings (login required); both stop their servers after the test.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (just now)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Received:
    """One message as the server took it: the envelope, the connection it came over, the parsed message."""

    mail_from: str
    rcpt_tos: list[str]
    peer: tuple
    raw: bytes
    message: EmailMessage


@dataclass
class Collector:
    """The server's handler: accepts every message, but for the recipients and subjects it is told to refuse."""

    received: list[Received] = field(default_factory=list)
    #: Recipients answered with 550 at RCPT TO.
    refuse_recipients: set[str] = field(default_factory=set)
    #: Subjects answered with this reply at the end of DATA (e.g. "421 ..." to close the connection).
    refuse_subjects: dict[str, str] = field(default_factory=dict)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse_recipients:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        message = message_from_bytes(raw, policy=policy.default)
        reply = self.refuse_subjects.get(str(message["Subject"]))
        if reply:
            return reply
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), session.peer, raw, message))
        return "250 Message accepted for delivery"


@dataclass
class MailServer:
    """A running server: where it listens and what it has received."""

    host: str
    port: int
    handler: Collector
    controller: Controller
    running: bool = True

    def stop(self) -> None:
        """Stop listening (a server that is down); stopping twice does nothing."""
        if self.running:
            self.controller.stop()
            self.running = False

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    def settings(self, **overrides) -> dict:
        """MAIL_* settings that point the app at this server (plain SMTP, as on a closed test network)."""
        return {
            "MAIL_SERVER": self.host,
            "MAIL_PORT": self.port,
            "MAIL_USE_TLS": False,
            "MAIL_USE_SSL": False,
            "MAIL_SENDER": "Praktijk De Linde <vragen@praktijk.example>",
            "MAIL_TIMEOUT": 5,
        } | overrides


def password_checker(username: str, password: str):
    """An aiosmtpd authenticator that lets in ``username`` with ``password`` only."""

    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
            username.encode(),
            password.encode(),
        )
        # handled=False: aiosmtpd answers a refusal with its 535 (True would leave the client waiting).
        return AuthResult(success=ok, handled=False)

    return authenticate


@pytest.fixture
def start_smtp_server():
    """Start aiosmtpd servers on free ports (keyword arguments go to its Controller); all stop after the test."""
    servers: list[MailServer] = []

    def start(**controller_options) -> MailServer:
        handler = Collector()
        port = free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port, **controller_options)
        controller.start()
        servers.append(MailServer("127.0.0.1", port, handler, controller))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def smtp_server(start_smtp_server) -> MailServer:
    """A running SMTP server that accepts mail without a login."""
    return start_smtp_server()
