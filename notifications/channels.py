"""Channels: Apprise URLs (e-mail, chat webhooks) plus our own ``file://`` channel.

Apprise has no file target (and its custom-plugin URLs lose the leading slash of an
absolute path), so ``file:///abs/path`` and ``file://relative/path`` are written here:
each message is appended to that file and synced to disk before it counts as accepted.
"""

import hashlib
import os
from datetime import UTC, datetime
from pathlib import Path

import apprise

SCHEMES = ("mailto", "mailtos", "json", "jsons", "workflow", "workflows", "file")
SEPARATOR = "=" * 72


class ChannelError(Exception):
    """A channel did not accept the message; the text says why (Dutch)."""


def channel_id(url: str) -> str:
    """A short stable id for a channel URL that reveals nothing of its secrets."""
    return hashlib.sha256(url.encode()).hexdigest()[:12]


def scheme_of(url: str) -> str:
    return url.partition("://")[0].lower()


def file_path(url: str) -> Path:
    """The file a ``file://`` URL points at (relative paths from the working directory)."""
    rest = url.split("://", 1)[1].split("?", 1)[0]
    return Path(rest)


def _write_file(url: str, title: str, body: str) -> None:
    path = file_path(url)
    path.parent.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    with path.open("a", encoding="utf-8") as handle:
        handle.write(f"{SEPARATOR}\n[{stamp}] {title}\n\n{body.rstrip()}\n\n")
        handle.flush()
        os.fsync(handle.fileno())


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


def send(url: str, title: str, body: str) -> None:
    """Deliver one message on one channel, or raise :class:`ChannelError`."""
    if scheme_of(url) == "file":
        try:
            _write_file(url, title, body)
        except OSError as error:
            raise ChannelError(f"bestand {url} niet te schrijven: {error.strerror}") from None
        return
    sender = apprise.Apprise()
    if not sender.add(url):
        raise ChannelError(f"ongeldig kanaal {describe(url)}")
    with apprise.LogCapture(level=apprise.logging.WARNING) as logs:
        accepted = sender.notify(title=title, body=body, body_format=apprise.NotifyFormat.TEXT)
    if not accepted:
        lines = [line for line in logs.getvalue().splitlines() if line.strip()]
        reason = lines[-1].split(" - ", 2)[-1] if lines else "geen reden opgegeven"
        raise ChannelError(f"{describe(url)} nam het bericht niet aan: {reason}")
