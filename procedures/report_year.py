"""The yearly report (jaarrapportage): per cluster and for the municipality, the indicators
I2-I6 of each of the year's four quarters and of the year, and the exit-interview reasons.

Its figures are what was published: each quarter's snapshot in force plus the corrections
published with figures against it up to the yearly report (``YearSources``; a correction
published as ``-`` told no figures and adds none), so a quarter's yearly figure hides what
its snapshot hid, and a year figure hides when one of its quarters does. It is published once, when
the four quarters are closed (``publish_year``), and stored like a snapshot: canonical JSON
with its SHA-256 (``year_report``), checked by ``idflow audit verify``; from then on it is
rendered from that record, published or internal.

A yearly report is a set of named sections (``SECTIONS``), each made from ``YearSources``:
``indicators`` and ``exit_reasons``. Publishing protects each section's figures on their own
and then against every earlier publication (``procedures.disclosure_joint``): a section with
figures tells the reader model (``procedures.disclosure_model``) what they add up to. Exit
reasons are published per cluster only where at least k interviews were held that year, in
at least two directorates (so no reason points to one directorate); elsewhere "te weinig
gesprekken". Formats: ``render_year``.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, col, select

from models import ExitReason, Transition, YearReport
from procedures.disclosure import COLUMNS, HIDDEN, hidden_keys
from procedures.disclosure_ledger import clusters_of, last_order, protect_new
from procedures.disclosure_model import YearPublication, below
from procedures.errors import InvalidInput, RuleViolation
from procedures.events import sha256_json
from procedures.quarters import insert_once
from procedures.report import CLOSED, INTERNAL, PROVISIONAL, Cell, Organisation
from procedures.snapshots import Snapshot, current_snapshots, moment_text
from procedures.snapshots import snapshot_versions as all_versions
from procedures.store import current_policy_version, load_policy
from procedures.tallies import roll_up

YEAR_FORMATS = ("json",)
TOO_FEW = "te weinig gesprekken"
Cells = dict[tuple[str, str], Cell]


@dataclass
class YearSources:
    """What a yearly report is made of: the snapshots in force, each quarter's figures as
    published (snapshot plus corrections), and the organisation and policy now."""

    year: int
    snapshots: dict[str, Snapshot]
    cells: dict[str, Cells]
    organisation: Organisation
    policy_version: int
    threshold: int
    reasons: list[str]
    versions: list[Snapshot]  # every stored snapshot version: their corrections

    @property
    def quarters(self) -> list[str]:
        return sorted(self.snapshots)

    @classmethod
    def load(cls, session: Session, year: int) -> "YearSources":
        quarters = [f"{year}Q{n}" for n in range(1, 5)]
        closed = current_snapshots(session)
        missing = [q for q in quarters if q not in closed]
        if missing:
            raise RuleViolation(
                f"Het jaar {year} heeft nog geen vastgestelde jaarrapportage: "
                f"{', '.join(missing)} {'is' if len(missing) == 1 else 'zijn'} niet vastgesteld. "
                "Een jaarrapportage volgt pas als alle vier kwartalen vastgesteld zijn."
            )
        snapshots, versions = {q: closed[q] for q in quarters}, all_versions(session)
        cells = _published_cells(versions, snapshots)
        policy = load_policy(session, current_policy_version(session))
        return cls(year, snapshots, cells, Organisation.load(session),
                   policy.version, policy.suppression_threshold, list(policy.exit_reasons),
                   versions)  # fmt: skip


def _published_cells(versions: list[Snapshot], snapshots: dict[str, Snapshot]) -> dict[str, Cells]:
    """Per quarter: its snapshot plus every correction published with figures against it (a
    correction published as ``-`` told no figures, so it adds none)."""
    cells = {q: s.cells() for q, s in snapshots.items()}
    for listing in versions:
        for row in listing.report(True).get("corrections", []):
            snapshot = snapshots.get(row["quarter"])
            told = isinstance(row["total"], int)
            if (
                snapshot is not None
                and told
                and listing.corrects(row["quarter"]) == snapshot.version
            ):
                key = (row["directorate"], row["indicator"])
                cells[row["quarter"]].setdefault(key, Cell()).add(Cell.of(row))
    return cells


def indicators(sources: YearSources) -> dict[str, Any]:
    """Per cluster and for the municipality, each quarter and the year (``period``)."""
    periods = {q: sources.cells[q] for q in sources.quarters}
    year: Cells = {}
    for cells in periods.values():
        for key, cell in cells.items():
            year.setdefault(key, Cell()).add(cell)
    periods[str(sources.year)] = year
    section: dict[str, Any] = {"cluster_totals": [], "municipality_totals": []}
    for period, cells in periods.items():
        rolled = sources.organisation.roll_up(period, cells)
        for part in ("cluster_totals", "municipality_totals"):
            section[part] += [{"period": period} | row for row in rolled[part]]
    return section


def exit_reasons(session: Session, sources: YearSources) -> dict[str, Any]:
    """Per cluster: the interviews held in the year as its quarters' snapshots count them, in
    how many directorates, and how often each reason was given in them."""
    held: dict[int, str] = {}
    statement = select(Transition.id, Transition.quarter, Transition.directorate, Transition.data)
    statement = statement.where(
        Transition.event == "record_exit_interview", col(Transition.quarter).in_(sources.quarters)
    )
    for tid, quarter, directorate, data in session.exec(statement):
        counted = tid is not None and tid <= sources.snapshots[quarter or ""].row.position
        if counted and data.get("held"):  # held, and counted in the quarter's snapshot
            held[int(tid or 0)] = directorate
    org = sources.organisation
    names = sorted({*org.clusters, *map(org.cluster_of, held.values())})
    clusters: dict[str, dict[str, Any]] = {
        c: {"interviews": 0, "directorates": set(), "reasons": dict.fromkeys(sources.reasons, 0)}
        for c in names
    }
    for directorate in held.values():
        entry = clusters[org.cluster_of(directorate)]
        entry["interviews"] += 1
        entry["directorates"].add(directorate)
    reasons = select(ExitReason.transition_id, ExitReason.code).where(
        ExitReason.year == sources.year
    )
    for tid, code in session.exec(reasons):
        if tid in held:
            reason_counts = clusters[org.cluster_of(held[tid])]["reasons"]
            reason_counts[code] = reason_counts.get(code, 0) + 1
    rows = []
    for cluster, entry in clusters.items():
        enough = entry["interviews"] >= sources.threshold and len(entry["directorates"]) >= 2
        rows.append({"cluster": cluster, **entry, "directorates": len(entry["directorates"]),
                     "published": enough})  # fmt: skip
    return {"clusters": rows}


SECTIONS: dict[str, Callable[[Session, YearSources], dict[str, Any]]] = {
    "indicators": lambda session, sources: indicators(sources),
    "exit_reasons": exit_reasons,
}


def _kept(sources: YearSources) -> set[tuple[str, str, str, str]]:
    """The yearly figures that stay hidden: a quarter's cluster or municipal figure that its
    snapshot hid (the yearly figure adds only published corrections to it), and a year
    figure when one of its quarters is hidden."""
    keep = set()
    for quarter, snapshot in sources.snapshots.items():
        for level, place, indicator, column in hidden_keys(snapshot.report(True)):
            if level in ("c", "m"):
                keep.add((quarter, place, indicator, column))
    return keep | {(str(sources.year), *rest) for _, *rest in keep}  # type: ignore[misc]


def _published_sections(internal: dict[str, Any], sources: YearSources) -> dict[str, Any]:
    """Each section protected on its own: small counts as ``<k``, what earlier publications
    hid stays hidden (``_kept``), and the reasons only where enough interviews were held."""
    k, keep = sources.threshold, _kept(sources)
    section = internal["indicators"]
    published: dict[str, Any] = {"cluster_totals": [], "municipality_totals": []}
    for part, code in (("cluster_totals", "cluster"), ("municipality_totals", None)):
        for row in section[part]:
            place = row[code] if code else "*"
            out = dict(row)
            for column in COLUMNS:
                value = row[column]
                if 0 < value < k or (row["period"], place, row["indicator"], column) in keep:
                    out[column] = HIDDEN if value >= k else below(k)
            published[part].append(out)
    reasons = []
    for row in internal["exit_reasons"]["clusters"]:
        if not row["published"]:
            reasons.append({"cluster": row["cluster"], "published": False, "note": TOO_FEW})
            continue
        shown = {code: (n if n >= k else below(k)) for code, n in row["reasons"].items()}
        reasons.append({"cluster": row["cluster"], "published": True, "reasons": shown})
    return {"indicators": published, "exit_reasons": {"clusters": reasons}}


@dataclass
class YearBook:
    """One yearly report as data: its JSON ``report`` and the organisation of its names."""

    report: dict[str, Any]
    organisation: Organisation

    @property
    def sections(self) -> dict[str, Any]:
        return dict(self.report["sections"])


def _book(sources: YearSources, status: dict[str, Any], sections: dict[str, Any],
          suppress: bool) -> dict[str, Any]:  # fmt: skip
    return {
        "year": sources.year,
        **status,
        "suppressed": suppress,
        "threshold": sources.threshold,
        "quarters": sources.quarters,
        "sources": {
            q: {"version": s.version, "sha256": s.row.sha256} for q, s in sources.snapshots.items()
        },  # fmt: skip
        "sections": sections,
    }


@dataclass(frozen=True)
class YearPublished:
    """The stored yearly report after ``publish_year``; ``created`` False: it existed."""

    row: YearReport
    created: bool


def publish_year(
    session: Session, year: int, actor: str, now: datetime | None = None
) -> YearPublished:
    """Publish the yearly report of ``year`` (all four quarters closed), once: two at once
    give one (the roll-up's lock orders them, the primary key settles any race left)."""
    year, now = check_year(year), (now or datetime.now(UTC)).replace(microsecond=0)
    position = roll_up(session).high  # on PostgreSQL this waits for a publication in flight
    stored = session.get(YearReport, year)
    if stored is not None:
        return YearPublished(stored, created=False)
    sources = YearSources.load(session, year)
    internal = {name: make(session, sources) for name, make in SECTIONS.items()}
    new = YearPublication(
        name=f"jaar {year}", year=year, order=float("inf"), threshold=sources.threshold,
        clusters=clusters_of(sources.organisation.to_json()),
        sources={q: s.version for q, s in sources.snapshots.items()},
        internal=internal, published=_published_sections(internal, sources),
    )  # fmt: skip
    protect_new(session, new)
    status = {"status": CLOSED, "published_at": moment_text(now)}
    content = {
        "format": 1,
        "year": year,
        "published_at": moment_text(now),
        "published_by": actor,
        "position": position,
        "after": last_order(session),
        "sources": {
            q: {"version": s.version, "sha256": s.row.sha256} for q, s in sources.snapshots.items()
        },  # fmt: skip
        "policy": {"version": sources.policy_version, "suppression_threshold": sources.threshold},
        "organisation": sources.organisation.to_json(),
        "internal": _book(sources, status, internal, False),
        "published": _book(sources, status, new.published, True),
    }
    row = {"year": year, "published_at": now, "published_by": actor, "position": position,
           "content": content, "sha256": sha256_json(content)}  # fmt: skip
    created = insert_once(session, YearReport, row, ["year"])
    stored = session.get(YearReport, year, populate_existing=True)
    assert stored is not None
    return YearPublished(stored, created)


def check_year_format(fmt: str) -> str:
    if fmt not in YEAR_FORMATS:
        raise InvalidInput(
            f"De jaarrapportage is er (nog) alleen als {', '.join(YEAR_FORMATS)}, niet als {fmt}."
        )
    return fmt


def check_year(year: int) -> int:
    if not 1900 <= year <= 2999:
        raise InvalidInput(f"Jaar {year} ligt buiten de jaren 1900 tot en met 2999.")
    return year


def check_year_published(session: Session, year: int) -> None:
    """Refuse, as ``build_year_report`` would, a yearly report that is not published yet."""
    if session.get(YearReport, check_year(year)) is None:
        raise RuleViolation(_not_published(year))


def _not_published(year: int) -> str:
    return (
        f"De jaarrapportage {year} is nog niet gepubliceerd (idflow year publish {year}, na de "
        "vaststelling van de vier kwartalen); intern, niet publiceren: --no-suppress."
    )


def build_year_report(session: Session, year: int, suppress: bool = True) -> YearBook:
    """The yearly report of ``year`` as published (``suppress``) or internal: the stored
    record once published; before that only internally, as it would be published now."""
    year = check_year(year)
    stored = session.get(YearReport, year)
    if stored is not None:
        content = stored.content
        report = dict(content["published" if suppress else "internal"])
        book = YearBook(report, Organisation.from_json(content["organisation"]))
    elif suppress:
        raise RuleViolation(_not_published(year))
    else:
        sources = YearSources.load(session, year)
        internal = {name: make(session, sources) for name, make in SECTIONS.items()}
        book = YearBook(_book(sources, {"status": PROVISIONAL}, internal, False),
                        sources.organisation)  # fmt: skip
    if not suppress:
        book.report = book.report | {"classification": INTERNAL}
    return book
