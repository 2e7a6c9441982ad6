"""Channels: e-mail (SMTP), a JSON webhook, Microsoft Teams (Power Automate) and a local file.

A send returns when the channel accepted the message, or raises :class:`ChannelError`,
which says whether trying again can help:

- passing (retried with backoff): no connection, a timeout, HTTP 5xx, 408 or 429, SMTP 4xx;
- permanent (the delivery fails at once, the answer recorded): any other HTTP 4xx, SMTP 5xx.

Every message carries a key that is the same for every attempt of one delivery (cause x
recipient x channel): the e-mail's ``Message-ID`` and the webhooks' ``idempotency_key``,
so a receiver can drop the copy a dispatcher sends again after dying mid-send.

Apprise parses every URL and sends the webhooks (its JSON plugin; its ``workflows://``
plugin with our Adaptive Card template). E-mail is sent here with smtplib from Apprise's
parsed URL, because Apprise gives each e-mail a random Message-ID and hides the SMTP answer.
Apprise has no file target, so ``file://PATH`` is written here (appended, synced to disk).
"""

import hashlib
import logging
import os
import re
import smtplib
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from importlib import resources
from pathlib import Path
from typing import Any

import apprise

SCHEMES = ("mailto", "mailtos", "json", "jsons", "workflow", "workflows", "file")
SEPARATOR = "=" * 72
# Every SMTP step (connect, each command, DATA) may take this long; far below the lease.
SMTP_TIMEOUT_S = 30
PASSING_HTTP = frozenset({408, 429})
_TEAMS_CARD = resources.files("notifications").joinpath("templates", "teams_card.json")


class ChannelError(Exception):
    """A channel did not accept the message; the text says why (Dutch)."""

    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class Outgoing:
    """One message for one channel: text, the delivery's stable key, severity and a link."""

    title: str
    body: str
    key: str
    warning: bool
    link: str


@dataclass(frozen=True)
class Channel:
    """A channel of the routing file: its URL as written and with its secrets filled in."""

    written: str
    url: str

    @property
    def id(self) -> str:
        return channel_id(self.written)

    @property
    def shown(self) -> str:
        return describe(self.url)


def channel_id(url: str) -> str:
    """A short stable id for a channel URL that reveals nothing of its secrets."""
    return hashlib.sha256(url.encode()).hexdigest()[:12]


def scheme_of(url: str) -> str:
    return url.partition("://")[0].lower()


def file_path(url: str) -> Path:
    """The file a ``file://`` URL points at (relative paths from the working directory)."""
    rest = url.split("://", 1)[1].split("?", 1)[0]
    return Path(rest)


def describe(url: str) -> str:
    """The URL with passwords and tokens masked, for display."""
    if scheme_of(url) == "file":
        return url
    plugin = apprise.Apprise.instantiate(url)
    # Apprise appends every default option; the address part is what a reader needs.
    return plugin.url(privacy=True).split("?", 1)[0] if plugin else url


def is_valid(url: str) -> bool:
    if scheme_of(url) == "file":
        return bool(str(file_path(url)).strip(". /"))
    return apprise.Apprise.instantiate(url) is not None


def send(url: str, message: Outgoing) -> None:
    """Deliver one message on one channel, or raise :class:`ChannelError`."""
    scheme = scheme_of(url)
    if scheme == "file":
        _send_file(url, message)
    elif scheme in ("mailto", "mailtos"):
        _send_mail(url, message)
    else:
        _send_webhook(url, message)


def _send_file(url: str, message: Outgoing) -> None:
    path = file_path(url)
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(f"{SEPARATOR}\n[{stamp}] {message.title}\n")
            handle.write(f"Sleutel: {message.key}\n\n{message.body.rstrip()}\n\n")
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as error:
        raise ChannelError(f"bestand {url} niet te schrijven: {error.strerror}") from None


def _send_mail(url: str, message: Outgoing) -> None:
    mailer: Any = apprise.Apprise.instantiate(url)
    if mailer is None:
        raise ChannelError(f"ongeldig kanaal {describe(url)}", permanent=True)
    mail = _mail(mailer, message)
    recipients = [address for _, address in mailer.targets] + sorted(mailer.cc | mailer.bcc)
    try:
        with _smtp(mailer) as smtp:
            if mailer.user and mailer.password:
                smtp.login(mailer.user, mailer.password)
            smtp.send_message(mail, mailer.from_addr[1], recipients)
    except smtplib.SMTPRecipientsRefused as error:
        answers = [f"{code} {_text(text)}" for code, text in error.recipients.values()]
        permanent = all(code >= 500 for code, _ in error.recipients.values())
        raise ChannelError(_refused(url, "; ".join(answers)), permanent) from None
    except smtplib.SMTPResponseException as error:
        answer = f"{error.smtp_code} {_text(error.smtp_error)}"
        raise ChannelError(_refused(url, answer), permanent=error.smtp_code >= 500) from None
    except (OSError, smtplib.SMTPException) as error:
        reason = str(error) or type(error).__name__
        raise ChannelError(f"{describe(url)} niet bereikbaar: {reason}") from None


def _mail(mailer: Any, message: Outgoing) -> EmailMessage:
    sender = mailer.from_addr
    mail = EmailMessage()
    mail["Subject"] = message.title
    mail["From"] = formataddr((sender[0] or "", sender[1]))
    mail["To"] = ", ".join(formataddr((name or "", address)) for name, address in mailer.targets)
    if mailer.cc:
        mail["Cc"] = ", ".join(sorted(mailer.cc))
    mail["Date"] = format_datetime(datetime.now(UTC))
    domain = sender[1].rpartition("@")[2] or mailer.smtp_host
    mail["Message-ID"] = f"<{message.key}@{domain}>"
    mail.set_content(message.body)
    return mail


def _smtp(mailer: Any) -> smtplib.SMTP:
    context = ssl.create_default_context()
    if not mailer.verify_certificate:
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    if mailer.secure_mode == "ssl":
        return smtplib.SMTP_SSL(
            mailer.smtp_host, mailer.port, timeout=SMTP_TIMEOUT_S, context=context
        )
    smtp = smtplib.SMTP(mailer.smtp_host, mailer.port, timeout=SMTP_TIMEOUT_S)
    if mailer.secure_mode == "starttls":
        smtp.starttls(context=context)
    return smtp


def _send_webhook(url: str, message: Outgoing) -> None:
    hook: Any = apprise.Apprise.instantiate(url)
    if hook is None:
        raise ChannelError(f"ongeldig kanaal {describe(url)}", permanent=True)
    if scheme_of(url) in ("workflow", "workflows"):
        if not len(hook.template):  # an operator's own template (template=...) is kept
            hook.template.add(str(_TEAMS_CARD))
        hook.tokens |= {
            "idempotency_key": message.key,
            "link": message.link,
            "color": "attention" if message.warning else "accent",
        }
    else:
        hook.payload_extras |= {"idempotency_key": message.key, "link": message.link}
    kind = apprise.NotifyType.WARNING if message.warning else apprise.NotifyType.INFO
    with apprise.LogCapture(level=logging.DEBUG, fmt="%(message)s\x1e") as logs:
        accepted = hook.notify(
            body=message.body, title=message.title, notify_type=kind, body_format=hook.notify_format
        )
    if not accepted:
        raise _webhook_error(url, [line.strip() for line in logs.getvalue().split("\x1e")])


def _webhook_error(url: str, lines: list[str]) -> ChannelError:
    """Apprise reports an HTTP answer only in its log: ``... error=400.`` and the body."""
    answer = next((line for line in lines if re.search(r"\berror=\d{3}\b", line)), None)
    if answer is None:
        reason = next((line for line in lines if "error" in line.lower()), "geen antwoord")
        return ChannelError(f"{describe(url)} niet bereikbaar: {reason}")
    code = int(re.findall(r"\berror=(\d{3})\b", answer)[-1])
    status = answer.split(":", 1)[-1].split(", error=")[0].strip(" .")
    body = next((line for line in lines if line.startswith("Response Details:")), "")
    detail = body.removeprefix("Response Details:").strip()[:300]
    text = f"HTTP {code}" + (f" {status}" if status and "error=" not in status else "")
    text += f" {detail}" if detail and detail not in ("b''", 'b""') else ""
    return ChannelError(
        _refused(url, text), permanent=400 <= code < 500 and code not in PASSING_HTTP
    )


def _refused(url: str, answer: str) -> str:
    return f"{describe(url)} nam het bericht niet aan: {answer}"


def _text(raw: bytes | str) -> str:
    return raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
