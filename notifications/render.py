"""Alerts as Dutch text (Jinja2 templates in ``templates/``): first line the subject, then
the body, which says which vacancy, directorate and step, who the recruiter is, what can be
done in the web app, and links there. Paragraphs are single lines: mail and chat clients
wrap them to the reader's window."""

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from sqlmodel import Session, select

from models import Cluster, Directorate, Outbox
from procedures.chart import EVENT_LABELS, STEPS
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
# The vacancy page's form for the `explain` event (web/templates/vacancy.html).
EXPLAIN_FORM = "#event-explain"


@dataclass(frozen=True)
class Message:
    """A rendered message: subject line, body text, severity and the page it points at."""

    title: str
    body: str
    warning: bool = False
    link: str = ""


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


def _procent(value: float | None) -> str:
    """``1.0`` -> ``1,0%`` (Dutch decimal comma)."""
    return "-" if value is None else f"{value:.1f}%".replace(".", ",")


def _join_or(items: Any) -> str:
    """``a, b of c``."""
    words = list(items)
    return " of ".join([", ".join(words[:-1]), words[-1]]) if len(words) > 1 else "".join(words)


_ENV = Environment(
    loader=PackageLoader("notifications", "templates"),
    autoescape=False,  # plain text for e-mail, chat and files; nothing here is HTML
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=False,
)
_ENV.filters |= {
    "datum": _datum,
    "datumtijd": _datumtijd,
    "procent": _procent,
    "join_or": _join_or,
    "handeling": lambda event: EVENT_LABELS.get(event, event),
}


def vacancy_url(base_url: str, vacancy: str) -> str:
    return f"{base_url.rstrip('/')}/vacatures/{vacancy}"


def dashboard_url(base_url: str) -> str:
    return f"{base_url.rstrip('/')}/dashboard"


def render_alert(alert: Outbox, names: Names, base_url: str) -> Message:
    """The message for one alert, from its kind's template and its payload facts."""
    directorate = alert.directorate or ""
    cluster = names.cluster_of.get(directorate, "")
    link = _link(alert, base_url)
    context: dict[str, Any] = {
        "alert": alert,
        "p": alert.payload,
        "directorate": directorate,
        "directorate_name": names.directorates.get(directorate, directorate),
        "cluster": cluster,
        "cluster_name": names.clusters.get(cluster, cluster or "onbekend"),
        "indicator_of": STEPS,
        "base_url": base_url.rstrip("/"),
        "link": link,
        "explain_link": lambda vacancy: vacancy_url(base_url, vacancy) + EXPLAIN_FORM,
    }
    text = _ENV.get_template(f"{alert.kind}.txt.j2").render(context)
    # Immediate alerts ask for something (a deviation, a release, a delay); the others inform.
    return _split(text, warning=alert.immediate, link=link)


def _link(alert: Outbox, base_url: str) -> str:
    if not alert.vacancy:
        return dashboard_url(base_url)
    page = vacancy_url(base_url, alert.vacancy)
    return page + EXPLAIN_FORM if alert.kind == "not_met" else page


def render_digest(day: str, recipient: str, messages: list[Message], base_url: str) -> Message:
    """One day's informational alerts for one recipient as a single message."""
    text = _ENV.get_template("digest.txt.j2").render(
        day=day, recipient=recipient, messages=messages
    )
    return _split(text, warning=False, link=dashboard_url(base_url) + "#alerts")


def _split(text: str, warning: bool, link: str) -> Message:
    title, _, body = text.strip().partition("\n")
    return Message(title.strip(), body.strip() + "\n", warning, link)
