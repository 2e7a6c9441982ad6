"""Routing as data: who hears which kind of alert for which clusters and directorates.

The routing file (YAML, path in ``IDFLOW_ROUTING_FILE``) lists recipients::

    recipients:
      - id: po-sociaal                      # stable: deliveries are recorded per id
        name: P&O-adviseurs cluster Sociaal
        clusters: [SOC]                     # "*" = every cluster
        directorates: [BV-FIN]              # extra directorates outside those clusters
        kinds: [not_met, overdue]           # left out: every kind
        channels:
          - mailto://smtp.example.org:25?from=idflow@example.org&to=po-sociaal@example.org
          - file://meldingen/po-sociaal.txt
"""

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from sqlmodel import Session, select

from models import Cluster, Directorate
from notifications.channels import SCHEMES, describe, is_valid, scheme_of
from procedures.alerts import KINDS

ALL = "*"
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_KEYS = {"id", "name", "clusters", "directorates", "kinds", "channels"}


class RoutingError(ValueError):
    """The routing file cannot be used; the message lists every problem (Dutch)."""


@dataclass(frozen=True)
class Recipient:
    """One recipient: what they hear about, and on which channels."""

    id: str
    name: str
    clusters: frozenset[str]
    directorates: frozenset[str]
    kinds: frozenset[str]
    channels: tuple[str, ...]

    def wants(self, kind: str, directorate: str | None, cluster: str | None) -> bool:
        if kind not in self.kinds:
            return False
        return ALL in self.clusters or cluster in self.clusters or directorate in self.directorates


@dataclass(frozen=True)
class Routing:
    """All recipients of one routing file."""

    source: str
    recipients: tuple[Recipient, ...]

    def recipients_for(
        self, kind: str, directorate: str | None, cluster: str | None
    ) -> list[Recipient]:
        return [r for r in self.recipients if r.wants(kind, directorate, cluster)]

    def get(self, recipient_id: str) -> Recipient | None:
        return next((r for r in self.recipients if r.id == recipient_id), None)


def load_routing(path: Path) -> Routing:
    """Read and check the structure of a routing file, or raise :class:`RoutingError`."""
    if not path.is_file():
        raise RoutingError(
            f"Routeringsbestand '{path}' bestaat niet. Stel IDFLOW_ROUTING_FILE in; "
            "een voorbeeld staat in notifications/routing.example.yaml."
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise RoutingError(f"Routeringsbestand '{path}' is geen geldige YAML: {error}") from None
    return parse_routing(data, str(path))


def parse_routing(data: Any, source: str) -> Routing:
    """A routing from parsed YAML; every problem is reported at once."""
    problems: list[str] = []
    entries = data.get("recipients") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise RoutingError(
            f"{source}: verwacht een lijst 'recipients:' met minstens één ontvanger."
        )
    recipients = [_recipient(n, entry, problems) for n, entry in enumerate(entries, 1)]
    ids = [str(e.get("id")) for e in entries if isinstance(e, dict) and e.get("id")]
    problems += [f"ontvanger-id '{i}' komt meer dan eens voor" for i in sorted(_dups(ids))]
    if problems:
        raise RoutingError(_message(source, problems))
    return Routing(source, tuple(r for r in recipients if r is not None))


def check_organisation(routing: Routing, clusters: set[str], directorates: set[str]) -> None:
    """Refuse cluster and directorate codes that the loaded organisation does not know."""
    problems = []
    for recipient in routing.recipients:
        for code in sorted(recipient.clusters - clusters - {ALL}):
            problems.append(
                f"ontvanger '{recipient.id}': onbekende clustercode '{code}' "
                f"(bekend: {', '.join(sorted(clusters))}, of * voor alle)"
            )
        for code in sorted(recipient.directorates - directorates):
            problems.append(
                f"ontvanger '{recipient.id}': onbekende directiecode '{code}' "
                "(zie 'idflow org show')"
            )
    if problems:
        raise RoutingError(_message(routing.source, problems))


def _recipient(n: int, entry: Any, problems: list[str]) -> Recipient | None:
    if not isinstance(entry, dict):
        problems.append(f"ontvanger {n}: verwacht velden {', '.join(sorted(_KEYS))}")
        return None
    rid = str(entry.get("id", ""))
    where = f"ontvanger '{rid}'" if rid else f"ontvanger {n}"
    before = len(problems)
    if not _ID.match(rid):
        problems.append(
            f"{where}: 'id' ontbreekt of bevat andere tekens dan letters, cijfers, . _ -"
        )
    for key in sorted(set(entry) - _KEYS):
        problems.append(f"{where}: onbekend veld '{key}' (toegestaan: {', '.join(sorted(_KEYS))})")
    clusters = _codes(entry, "clusters", where, problems)
    directorates = _codes(entry, "directorates", where, problems)
    if not clusters and not directorates:
        problems.append(f"{where}: geef 'clusters' en/of 'directorates' (of clusters: ['*'])")
    kinds = _codes(entry, "kinds", where, problems) or set(KINDS)
    for kind in sorted(kinds - set(KINDS)):
        problems.append(f"{where}: onbekende soort melding '{kind}' (bekend: {', '.join(KINDS)})")
    channels = _channels(entry, where, problems)
    if len(problems) > before:
        return None
    return Recipient(
        rid,
        str(entry.get("name") or rid),
        frozenset(clusters),
        frozenset(directorates),
        frozenset(kinds),
        tuple(channels),
    )


def _codes(entry: dict[str, Any], key: str, where: str, problems: list[str]) -> set[str]:
    value = entry.get(key) or []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.append(f"{where}: '{key}' moet een lijst met codes zijn")
        return set()
    return {v.strip() for v in value if v.strip()}


def _channels(entry: dict[str, Any], where: str, problems: list[str]) -> list[str]:
    channels = entry.get("channels")
    if not isinstance(channels, list) or not channels:
        problems.append(f"{where}: 'channels' moet minstens één kanaal-URL bevatten")
        return []
    good = []
    for url in channels:
        if not isinstance(url, str) or scheme_of(url) not in SCHEMES or "://" not in url:
            problems.append(
                f"{where}: kanaal '{url}' wordt niet ondersteund "
                f"(gebruik {', '.join(s + '://' for s in SCHEMES)})"
            )
        elif not is_valid(url):
            problems.append(
                f"{where}: kanaal '{describe(url)}' is geen geldige URL voor dit kanaal"
            )
        else:
            good.append(url)
    return good


def _dups(ids: list[str]) -> set[str]:
    return {i for i in ids if ids.count(i) > 1}


def _message(source: str, problems: list[str]) -> str:
    lines = "\n".join(f"  - {p}" for p in problems)
    return f"Routeringsbestand {source} is niet bruikbaar ({len(problems)} fouten):\n{lines}"


def load_checked(session: Session, path: Path) -> Routing:
    """Load a routing file and check its codes against the organisation in the database."""
    routing = load_routing(path)
    clusters = set(session.exec(select(Cluster.code)))
    directorates = set(session.exec(select(Directorate.code)))
    check_organisation(routing, clusters, directorates)
    return routing
