"""Routing as data: who hears which kind of alert for which clusters and directorates.

The routing file (YAML, path in ``IDFLOW_ROUTING_FILE``) lists recipients and one fallback::

    recipients:
      - id: po-sociaal                      # stable: deliveries are recorded per id
        name: P&O-adviseurs cluster Sociaal
        clusters: [SOC]                     # "*" = every cluster
        directorates: [BV-FIN]              # extra directorates outside those clusters
        kinds: [not_met, overdue]           # left out: every kind
        channels:
          - mailtos://idflow:${SMTP_PASSWORD}@smtp.example.org:587?from=idflow@example.org&to=po@example.org
    fallback:                               # required: gets every alert nobody else gets
      id: po-vangnet
      channels: [...]

``${NAME}`` in a channel URL is filled in from the environment when the file is loaded (URL
encoded: it stands for one part, such as a password), so secrets stay out of the file.
"""

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml
from sqlmodel import Session, col, select

from models import Cluster, Directorate
from notifications.channels import SCHEMES, Channel, describe, is_valid, scheme_of
from procedures.alerts import KIND_LABELS, KINDS, MUNICIPAL_KINDS

ALL = "*"
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_KEYS = {"id", "name", "clusters", "directorates", "kinds", "channels"}
_FALLBACK_KEYS = {"id", "name", "channels"}
_TOP = {"recipients", "fallback"}
_SECRET = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


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
    channels: tuple[Channel, ...]

    def wants(self, kind: str, directorate: str | None, cluster: str | None) -> bool:
        if kind not in self.kinds:
            return False
        return ALL in self.clusters or cluster in self.clusters or directorate in self.directorates

    def channel(self, channel_id: str) -> Channel | None:
        return next((c for c in self.channels if c.id == channel_id), None)


@dataclass(frozen=True)
class Routing:
    """All recipients of one routing file, and the fallback for what none of them gets."""

    source: str
    recipients: tuple[Recipient, ...]
    fallback: Recipient

    def recipients_for(
        self, kind: str, directorate: str | None, cluster: str | None
    ) -> list[Recipient]:
        """The recipients routed for this alert; empty means it goes to the fallback."""
        return [r for r in self.recipients if r.wants(kind, directorate, cluster)]

    def get(self, recipient_id: str) -> Recipient | None:
        everyone = (*self.recipients, self.fallback)
        return next((r for r in everyone if r.id == recipient_id), None)


def load_routing(path: Path, environ: Mapping[str, str] | None = None) -> Routing:
    """Read and check the structure of a routing file, or raise :class:`RoutingError`.

    ``${NAME}`` placeholders are filled in from ``environ`` (default: the process
    environment; the names are the file's, so they cannot be settings of their own)."""
    if not path.is_file():
        raise RoutingError(
            f"Routeringsbestand '{path}' bestaat niet. Stel IDFLOW_ROUTING_FILE in; "
            "een voorbeeld staat in notifications/routing.example.yaml."
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise RoutingError(f"Routeringsbestand '{path}' is geen geldige YAML: {error}") from None
    return parse_routing(data, str(path), os.environ if environ is None else environ)


def parse_routing(data: Any, source: str, environ: Mapping[str, str]) -> Routing:
    """A routing from parsed YAML; every problem is reported at once."""
    problems: list[str] = []
    entries = data.get("recipients") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise RoutingError(
            f"{source}: verwacht een lijst 'recipients:' met minstens één ontvanger."
        )
    problems += [
        f"onbekend onderdeel '{key}' (toegestaan: {', '.join(sorted(_TOP))})"
        for key in sorted(set(data) - _TOP)
    ]
    recipients = [_recipient(n, entry, environ, problems) for n, entry in enumerate(entries, 1)]
    fallback = _fallback(data.get("fallback"), environ, problems)
    ids = [str(e.get("id")) for e in [*entries, data.get("fallback")] if isinstance(e, dict)]
    problems += [f"ontvanger-id '{i}' komt meer dan eens voor" for i in sorted(_dups(ids))]
    if problems or fallback is None:
        raise RoutingError(_message(source, problems))
    return Routing(source, tuple(r for r in recipients if r is not None), fallback)


def _fallback(entry: Any, environ: Mapping[str, str], problems: list[str]) -> Recipient | None:
    if not isinstance(entry, dict):
        problems.append(
            "'fallback:' ontbreekt: geef een vangnetontvanger (id, name, channels) die elke "
            "melding krijgt waarvoor geen andere ontvanger is, zodat er geen verloren gaat"
        )
        return None
    where = f"vangnetontvanger '{entry.get('id', '')}'"
    for key in sorted(set(entry) - _FALLBACK_KEYS):
        allowed = ", ".join(sorted(_FALLBACK_KEYS))
        problems.append(
            f"{where}: onbekend veld '{key}' (toegestaan: {allowed}; het vangnet "
            "krijgt elke soort melding van elk cluster zonder andere ontvanger)"
        )
    return _recipient("vangnet", entry | {"clusters": [ALL]}, environ, problems, _FALLBACK_KEYS)


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


def coverage_gaps(routing: Routing, directorates: Iterable[tuple[str, str]]) -> list[str]:
    """Each cluster x alert kind whose (active) directorates no recipient covers, in Dutch.

    ``directorates`` are (directorate, cluster) pairs. Such alerts go to the fallback."""
    by_cluster: dict[str, list[str]] = {}
    for directorate, cluster in sorted(directorates):
        by_cluster.setdefault(cluster, []).append(directorate)
    gaps = [
        f"hele gemeente: geen ontvanger voor '{KIND_LABELS[kind]}'"
        for kind in KINDS
        if kind in MUNICIPAL_KINDS and not routing.recipients_for(kind, None, None)
    ]
    for cluster, codes in sorted(by_cluster.items()):
        for kind in (k for k in KINDS if k not in MUNICIPAL_KINDS):
            missing = [d for d in codes if not routing.recipients_for(kind, d, cluster)]
            if not missing:
                continue
            where = "" if len(missing) == len(codes) else f" (directies {', '.join(missing)})"
            gaps.append(f"cluster {cluster}{where}: geen ontvanger voor '{KIND_LABELS[kind]}'")
    return gaps


def _recipient(
    n: int | str,
    entry: Any,
    environ: Mapping[str, str],
    problems: list[str],
    keys: set[str] = _KEYS,
) -> Recipient | None:
    if not isinstance(entry, dict):
        problems.append(f"ontvanger {n}: verwacht velden {', '.join(sorted(keys))}")
        return None
    rid = str(entry.get("id", ""))
    where = f"ontvanger '{rid}'" if rid else f"ontvanger {n}"
    before = len(problems)
    if not _ID.match(rid):
        problems.append(
            f"{where}: 'id' ontbreekt of bevat andere tekens dan letters, cijfers, . _ -"
        )
    if keys is _KEYS:
        for key in sorted(set(entry) - _KEYS):
            allowed = ", ".join(sorted(_KEYS))
            problems.append(f"{where}: onbekend veld '{key}' (toegestaan: {allowed})")
    clusters = _codes(entry, "clusters", where, problems)
    directorates = _codes(entry, "directorates", where, problems)
    if not clusters and not directorates:
        problems.append(f"{where}: geef 'clusters' en/of 'directorates' (of clusters: ['*'])")
    kinds = _codes(entry, "kinds", where, problems) or set(KINDS)
    for kind in sorted(kinds - set(KINDS)):
        problems.append(f"{where}: onbekende soort melding '{kind}' (bekend: {', '.join(KINDS)})")
    channels = _channels(entry, where, environ, problems)
    if len(problems) > before:
        return None
    name = str(entry.get("name") or rid)
    return Recipient(
        rid, name, frozenset(clusters), frozenset(directorates), frozenset(kinds), channels
    )


def _codes(entry: dict[str, Any], key: str, where: str, problems: list[str]) -> set[str]:
    value = entry.get(key) or []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.append(f"{where}: '{key}' moet een lijst met codes zijn")
        return set()
    return {v.strip() for v in value if v.strip()}


def _channels(
    entry: dict[str, Any], where: str, environ: Mapping[str, str], problems: list[str]
) -> tuple[Channel, ...]:
    channels = entry.get("channels")
    if not isinstance(channels, list) or not channels:
        problems.append(f"{where}: 'channels' moet minstens één kanaal-URL bevatten")
        return ()
    good = []
    for written in channels:
        if (
            not isinstance(written, str)
            or scheme_of(written) not in SCHEMES
            or "://" not in written
        ):
            problems.append(
                f"{where}: kanaal '{written}' wordt niet ondersteund "
                f"(gebruik {', '.join(s + '://' for s in SCHEMES)})"
            )
            continue
        missing = [name for name in _SECRET.findall(written) if name not in environ]
        if missing:
            names = ", ".join(f"${{{name}}}" for name in missing)
            problems.append(
                f"{where}: kanaal '{_masked(written)}' gebruikt {names}, maar die "
                "omgevingsvariabele is niet gezet (geef hem aan elk proces dat meldingen verstuurt)"
            )
            continue
        url = _SECRET.sub(lambda m: quote(environ[m.group(1)], safe=""), written)
        if not is_valid(url):
            problems.append(
                f"{where}: kanaal '{describe(url)}' is geen geldige URL voor dit kanaal"
            )
        else:
            good.append(Channel(written, url))
    return tuple(good)


def _masked(url: str) -> str:
    return describe(_SECRET.sub("x", url)) if is_valid(_SECRET.sub("x", url)) else url


def _dups(ids: list[str]) -> set[str]:
    return {i for i in ids if ids.count(i) > 1}


def _message(source: str, problems: list[str]) -> str:
    lines = "\n".join(f"  - {p}" for p in problems)
    return f"Routeringsbestand {source} is niet bruikbaar ({len(problems)} fouten):\n{lines}"


def organisation_codes(session: Session) -> tuple[set[str], list[tuple[str, str]]]:
    """The cluster codes, and the active directorates with their cluster."""
    clusters = set(session.exec(select(Cluster.code)))
    statement = select(Directorate.code, Directorate.cluster_code).where(col(Directorate.active))
    return clusters, [(code, cluster) for code, cluster in session.exec(statement)]


def load_checked(session: Session, path: Path) -> Routing:
    """Load a routing file and check its codes against the organisation in the database."""
    routing = load_routing(path)
    clusters = set(session.exec(select(Cluster.code)))
    directorates = set(session.exec(select(Directorate.code)))
    check_organisation(routing, clusters, directorates)
    return routing
