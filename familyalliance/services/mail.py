"""Mail through the clinic's own SMTP server, so questionnaire links can reach a family by e-mail.

Standard library only (``smtplib``, ``email.message``). The server comes from the ``MAIL_*``
settings (``config.py``, docs/operations.md "E-mail"); without ``MAIL_SERVER`` (or without a
``MAIL_SENDER``) mail is off and :func:`mail_configured` says so. Every problem ends in a
:class:`MailError` with its reason, never in an exception a page would turn into a 500.

:func:`send_all` sends several messages over one SMTP session: a problem before the session
starts (no server, wrong password, no TLS) raises and nothing is sent; after that each message
is accepted by the server or listed as failed with its own reason.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

from email_validator import EmailNotValidError, validate_email
from flask import current_app

from familyalliance.services import errors

#: What went wrong, for a caller that words it for a page (the message itself is English, for logs).
MAIL_ERROR_KINDS = (
    "not_configured",  # no MAIL_SERVER or no MAIL_SENDER
    "unreachable",  # no connection: wrong name or port, server down, firewall, timeout
    "tls",  # the server offers no STARTTLS, or its certificate is not trusted
    "authentication",  # MAIL_USERNAME/MAIL_PASSWORD refused, or the server takes no login
    "invalid_address",  # the recipient is not an e-mail address
    "refused",  # the server refused this message (recipient, sender or content)
    "lost",  # the connection broke off before the server confirmed this message (it may or may not arrive)
)


class MailError(errors.OperationError):
    """Mail that could not be sent: ``kind`` (one of MAIL_ERROR_KINDS) and the reason in ``detail``."""

    def __init__(self, kind: str, detail: str):
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


@dataclass(frozen=True)
class Message:
    """One message to one address; ``key`` is the caller's own reference (a request's id, say)."""

    to: str
    subject: str
    text: str
    html: str | None = None
    key: object = field(default=None, compare=False)


@dataclass
class SendReport:
    """What :func:`send_all` did: the messages the server accepted, and the others with why."""

    sent: list[Message] = field(default_factory=list)
    failed: list[tuple[Message, MailError]] = field(default_factory=list)


@dataclass(frozen=True)
class MailSettings:
    """The ``MAIL_*`` settings, read once per batch."""

    server: str | None
    port: int
    use_tls: bool
    use_ssl: bool
    username: str | None
    password: str | None
    sender: str | None
    timeout: float

    @classmethod
    def from_mapping(cls, config: Mapping) -> MailSettings:
        """Settings from an app's config (environment values may arrive as numbers or text)."""
        return cls(
            server=_text(config.get("MAIL_SERVER")),
            port=int(config.get("MAIL_PORT") or 587),
            use_tls=_flag(config.get("MAIL_USE_TLS", True)),
            use_ssl=_flag(config.get("MAIL_USE_SSL", False)),
            username=_text(config.get("MAIL_USERNAME")),
            password=_text(config.get("MAIL_PASSWORD")),
            sender=_text(config.get("MAIL_SENDER")),
            timeout=float(config.get("MAIL_TIMEOUT") or 10),
        )

    @property
    def where(self) -> str:
        """The server as logs and messages name it."""
        return f"{self.server}:{self.port}"


def _text(value) -> str | None:
    # FAMILYALLIANCE_MAIL_PASSWORD=123456 reaches the config as a number (values are parsed as JSON).
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _flag(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def settings() -> MailSettings:
    """The current app's mail settings."""
    return MailSettings.from_mapping(current_app.config)


def mail_configured() -> bool:
    """Whether this installation sends mail (a server and a From address are set)."""
    current = settings()
    return bool(current.server and current.sender)


def send(to: str, subject: str, text: str, html: str | None = None) -> None:
    """Send one message; raises MailError with the reason when it is not accepted by the server."""
    report = send_all([Message(to, subject, text, html)])
    if report.failed:
        raise report.failed[0][1]


def send_all(messages: Iterable[Message]) -> SendReport:
    """Send ``messages`` over one SMTP session; returns which the server accepted and which failed with why.

    Raises MailError when no session can be had (mail off, server unreachable, TLS or login
    refused): then nothing was sent.
    """
    current = settings()
    _check_configured(current)
    report = SendReport()
    ready: list[tuple[Message, EmailMessage]] = []
    # Bad addresses fail on their own, before any connection: they never cost the others their turn.
    for message in messages:
        try:
            ready.append((message, _compose(message, current.sender)))
        except MailError as exc:
            report.failed.append((message, exc))
    if not ready:
        return report
    smtp = _connect(current)
    try:
        for position, (message, email) in enumerate(ready):
            try:
                smtp.send_message(email)
            except smtplib.SMTPServerDisconnected as exc:
                lost = MailError("lost", f"The connection to the mail server {current.where} was lost: {exc}")
                report.failed.extend((rest, lost) for rest, _ in ready[position:])
                return report
            except smtplib.SMTPRecipientsRefused as exc:
                report.failed.append((message, MailError("refused", _refused_recipients(exc))))
            except smtplib.SMTPResponseException as exc:
                refused = MailError("refused", f"The mail server refused the message: {_reply(exc)}")
                report.failed.append((message, refused))
            except smtplib.SMTPException as exc:  # such as an address the server cannot take (no SMTPUTF8)
                report.failed.append((message, MailError("refused", f"The message cannot be sent: {exc}")))
            except OSError as exc:
                # A broken socket leaves the session unusable: the remaining messages are not tried.
                lost = MailError("lost", f"Sending through {current.where} failed: {exc}")
                report.failed.extend((rest, lost) for rest, _ in ready[position:])
                return report
            else:
                report.sent.append(message)
        return report
    finally:
        _quit(smtp)


def _check_configured(current: MailSettings) -> None:
    if not current.server:
        raise MailError("not_configured", "No mail server is configured (MAIL_SERVER); mail is off.")
    if not current.sender:
        raise MailError("not_configured", "No sender address is configured (MAIL_SENDER); mail is off.")


def _compose(message: Message, sender: str) -> EmailMessage:
    """The message as sent: plain text, with an HTML alternative when given."""
    try:
        to = validate_email(message.to, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise MailError("invalid_address", f"Not an e-mail address: {exc}") from None
    email = EmailMessage()
    try:
        email["From"] = sender
        email["To"] = to
        email["Subject"] = message.subject
    except ValueError as exc:  # a line break in a header: refused rather than let it add headers
        raise MailError("refused", f"The message cannot be sent: {exc}") from None
    email["Date"] = formatdate(localtime=False, usegmt=True)
    email["Message-ID"] = make_msgid(domain=_domain(sender))
    # No out-of-office replies to a machine's message (RFC 3834).
    email["Auto-Submitted"] = "auto-generated"
    email.set_content(message.text)
    if message.html is not None:
        email.add_alternative(message.html, subtype="html")
    return email


def _domain(sender: str) -> str | None:
    address = parseaddr(sender)[1]
    return address.rpartition("@")[2] or None


def _connect(current: MailSettings) -> smtplib.SMTP:
    """An SMTP session, secured and logged in as configured; raises MailError when there is none."""
    context = ssl.create_default_context()
    smtp: smtplib.SMTP | None = None
    try:
        if current.use_ssl:
            smtp = smtplib.SMTP_SSL(current.server, current.port, timeout=current.timeout, context=context)
        else:
            smtp = smtplib.SMTP(current.server, current.port, timeout=current.timeout)
            if current.use_tls:
                smtp.starttls(context=context)
        if current.username:
            smtp.login(current.username, current.password or "")
        return smtp
    except smtplib.SMTPAuthenticationError as exc:
        error = MailError("authentication", f"The mail server {current.where} refused the login: {_reply(exc)}")
    except smtplib.SMTPNotSupportedError as exc:
        # STARTTLS not offered, or AUTH not offered (many servers offer it only after STARTTLS).
        kind = "tls" if current.use_tls and not current.use_ssl and "STARTTLS" in str(exc) else "authentication"
        error = MailError(kind, f"The mail server {current.where} does not support this: {exc}")
    except ssl.SSLError as exc:
        error = MailError("tls", f"No secure connection with the mail server {current.where}: {exc}")
    except smtplib.SMTPResponseException as exc:
        error = MailError("unreachable", f"The mail server {current.where} turned the connection down: {_reply(exc)}")
    except (smtplib.SMTPException, OSError) as exc:
        error = MailError("unreachable", f"The mail server {current.where} cannot be reached: {exc}")
    if smtp is not None:
        _quit(smtp)
    current_app.logger.warning("mail: %s", error.detail)
    raise error


def _quit(smtp: smtplib.SMTP) -> None:
    """End the session politely; the messages are accepted already, so a failing QUIT changes nothing."""
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def _reply(exc: smtplib.SMTPResponseException) -> str:
    text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
    return f"{exc.smtp_code} {text}"


def _refused_recipients(exc: smtplib.SMTPRecipientsRefused) -> str:
    replies = "; ".join(
        f"{code} {reply.decode(errors='replace') if isinstance(reply, bytes) else reply}"
        for code, reply in exc.recipients.values()
    )
    return f"The mail server refused the recipient: {replies}"
