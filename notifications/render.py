"""Alerts as Dutch text (Jinja2 templates in ``templates/``): first line the subject, then
the body, which says which vacancy, directorate and step, what is expected, and links to the
vacancy page under the base URL."""

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from sqlmodel import Session, select

from models import Cluster, Directorate, Outbox
from procedures.chart import STEPS
from procedures.policy import AMSTERDAM

MONTHS = [
    "januari",
    "februari",
    "maart",
    "april",
    "mei",
    "juni",
    "juli",
    "augustus",
    "september",
    "oktober",
    "november",
    "december",
]


@dataclass(frozen=True)
class Message:
    """A rendered message: subject line and body text."""

    title: str
    body: str


@dataclass(frozen=True)
class Names:
    """Names for codes: directorate -> name, directorate -> cluster, cluster -> name."""

    directorates: dict[str, str]
    cluster_of: dict[str, str]
    clusters: dict[str, str]

    @classmethod
    def load(cls, session: Session) -> "Names":
        directorates = session.exec(select(Directorate)).all()
        clusters = session.exec(select(Cluster)).all()
        return cls(
            {d.code: d.name for d in directorates},
            {d.code: d.cluster_code for d in directorates},
            {c.code: c.name for c in clusters},
        )


def _datum(value: str | date | datetime | None) -> str:
    """``2025-03-04...`` -> ``4 maart 2025`` (Amsterdam time for moments)."""
    if value is None:
        return "-"
    moment = _parse(value)
    if isinstance(moment, datetime):
        moment = moment.astimezone(AMSTERDAM).date()
    return f"{moment.day} {MONTHS[moment.month - 1]} {moment.year}"


def _datumtijd(value: str | datetime | None) -> str:
    """``2025-03-04T09:30:00+01:00`` -> ``4 maart 2025 09:30``."""
    if value is None:
        return "-"
    moment = _parse(value)
    if not isinstance(moment, datetime):
        return _datum(moment)
    local = moment.astimezone(AMSTERDAM)
    return f"{_datum(local)} {local:%H:%M}"


def _parse(value: str | date | datetime) -> date | datetime:
    if not isinstance(value, str):
        return value
    return datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)


_ENV = Environment(
    loader=PackageLoader("notifications", "templates"),
    autoescape=False,  # plain text for e-mail, chat and files; nothing here is HTML
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=False,
)
_ENV.filters["datum"] = _datum
_ENV.filters["datumtijd"] = _datumtijd


def vacancy_url(base_url: str, vacancy: str) -> str:
    return f"{base_url.rstrip('/')}/vacatures/{vacancy}"


def render_alert(alert: Outbox, names: Names, base_url: str) -> Message:
    """The message for one alert, from its kind's template and its payload facts."""
    directorate = alert.directorate or ""
    cluster = names.cluster_of.get(directorate, "")
    context: dict[str, Any] = {
        "alert": alert,
        "p": alert.payload,
        "directorate": directorate,
        "directorate_name": names.directorates.get(directorate, directorate),
        "cluster": cluster,
        "cluster_name": names.clusters.get(cluster, cluster or "onbekend"),
        "indicator_of": STEPS,
        "base_url": base_url.rstrip("/"),
        "link": vacancy_url(base_url, alert.vacancy) if alert.vacancy else None,
    }
    return _split(_ENV.get_template(f"{alert.kind}.txt.j2").render(context))


def render_digest(day: str, recipient: str, messages: list[Message]) -> Message:
    """One day's informational alerts for one recipient as a single message."""
    text = _ENV.get_template("digest.txt.j2").render(
        day=day, recipient=recipient, messages=messages
    )
    return _split(text)


def _split(text: str) -> Message:
    title, _, body = text.strip().partition("\n")
    return Message(title.strip(), body.strip() + "\n")
