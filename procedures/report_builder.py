"""The one report builder: every kwartaalrapportage is made here (the CLI's report flow, the
web downloads and the dashboard, the Prefect artifacts, the close of a quarter).

    build_report(session, quarter, suppress, restated, version, scope)
      closed quarter            -> the book its snapshot froze (published or internal)
      open quarter, --restated  -> a draft, internal only: figures from the tallies along the
                                   organisation as it stands now, the trend (closed quarters
                                   as frozen), the corrections on earlier closed quarters,
                                   deviations and exit reasons; the policy in force gives the
                                   threshold. Only a closed quarter is published.
      scope                     -> a recruiter's own directorates only

``close_quarter`` publishes a draft (``publish_draft``: protected on its own by
``disclosure.publish``, then against every earlier publication by the joint audit) and
freezes both books (``Draft.book``) into the snapshot. The yearly report
(``procedures.report_year``) is made from the same pieces.
"""

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session

from procedures.calendar import parse_quarter, recent_quarters
from procedures.corrections import corrections_for
from procedures.disclosure import hidden_keys, publish
from procedures.disclosure_ledger import NEW_ORDER, clusters_of, inactive_listed, protect_new
from procedures.disclosure_model import QuarterPublication
from procedures.errors import InvalidInput, RuleViolation
from procedures.report import (
    CLOSED,
    INTERNAL,
    PROVISIONAL,
    TREND_QUARTERS,
    Organisation,
    deviations,
    directorate_cells,
    exit_reasons,
    of_quarter,
    trend_points,
)
from procedures.report_book import ReportBook
from procedures.snapshots import Snapshot, current_snapshots, snapshot_of, snapshot_versions
from procedures.store import current_policy_version, load_policy

REPORT_FORMATS = ("json", "csv", "xlsx", "html")
FIRST_YEAR, LAST_YEAR = 1900, 2999  # a year 0 or 9999 quarter would have no calendar end


def report_quarter(text: str) -> str:
    """``text`` as a quarter in its normal form (``2025Q1``), or a Dutch refusal."""
    year, q = parse_quarter(text)
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise InvalidInput(
            f"Kwartaal '{text}' ligt buiten de jaren {FIRST_YEAR} tot en met {LAST_YEAR}."
        )
    return f"{year}Q{q}"


def check_format(fmt: str) -> str:
    if fmt not in REPORT_FORMATS:
        raise InvalidInput(
            f"Onbekend rapportformaat '{fmt}'; kies uit: {', '.join(REPORT_FORMATS)}."
        )
    return fmt


@dataclass(frozen=True)
class Sources:
    """What a draft's figures come from: the organisation and the policy as they stand, and
    the snapshots of the closed quarters."""

    organisation: Organisation
    policy_version: int
    threshold: int
    closed: dict[str, Snapshot]

    @classmethod
    def load(cls, session: Session) -> "Sources":
        version = current_policy_version(session)
        threshold = load_policy(session, version).suppression_threshold
        return cls(Organisation.load(session), version, threshold, current_snapshots(session))


class Figures:
    """One quarter's figures, unsuppressed (``internal``) and as published (``frozen`` by its
    snapshot, or by ``publish_draft`` for a quarter being closed; None: not published)."""

    def __init__(self, internal: dict[str, Any], threshold: int, frozen: dict | None = None):
        self.internal, self.threshold, self.frozen = internal, threshold, frozen

    def side(self, suppress: bool) -> dict[str, Any] | None:
        return self.frozen if suppress else self.internal


def quarters_figures(
    session: Session, quarters: list[str], sources: Sources, restated: bool = False
) -> dict[str, Figures]:
    """The figures of ``quarters``: a closed quarter's from its snapshot (unless
    ``restated``), the others from the tallies along today's organisation."""
    frozen = {} if restated else {q: sources.closed[q] for q in quarters if q in sources.closed}
    cells = directorate_cells(session, [q for q in quarters if q not in frozen])
    result = {}
    for quarter in quarters:
        snapshot = frozen.get(quarter)
        if snapshot is not None:
            result[quarter] = Figures(
                snapshot.report(False), snapshot.threshold, snapshot.report(True)
            )
        else:
            report = sources.organisation.roll_up(quarter, of_quarter(cells, quarter))
            result[quarter] = Figures(report, sources.threshold)
    return result


@dataclass
class Draft:
    """A report made now, before it is published or frozen: every part unsuppressed."""

    main: Figures
    trend: list[tuple[str, Figures]]
    deviations: list[dict[str, Any]]
    exit_reasons: list[dict[str, Any]]
    organisation: Organisation
    threshold: int
    corrects: dict[str, int]
    keep: set[tuple[str, str, str, str]] = field(default_factory=set)

    def book(self, suppress: bool) -> ReportBook:
        """The internal book, or the published one (after ``publish_draft``): only published
        figures in its trend, no deviations (per vacancy: they would reveal small counts) and
        no exit reasons (published per year only, in the yearly report)."""
        main = self.main.side(suppress)
        assert main is not None, "a draft is published by publish_draft first"
        trend = [point for quarter, figures in self.trend
                 if (side := figures.side(suppress)) is not None
                 for point in trend_points(quarter, side)]  # fmt: skip
        if suppress:
            return ReportBook(main, trend, [], self.organisation, self.threshold, [])
        return ReportBook(
            main, trend, self.deviations, self.organisation, self.threshold, self.exit_reasons
        )

    def publication(self, version: int) -> QuarterPublication:
        """The draft as snapshot ``version`` for the joint audit, protected on its own first;
        what the quarter's previous version hid stays hidden (``keep``)."""
        report, org = self.main.internal, self.organisation.to_json()
        return QuarterPublication(
            name=f"{report['quarter']} versie {version}", quarter=report["quarter"],
            version=version, order=NEW_ORDER, threshold=self.threshold,
            clusters=clusters_of(org), inactive=inactive_listed(org, report), legacy=False,
            internal=report, published=publish(report, self.threshold, self.keep),
            corrects=self.corrects,
        )  # fmt: skip


def publish_draft(session: Session, made: Draft, version: int) -> None:
    """Publish ``made`` as snapshot ``version``: protected on its own, then against every
    earlier publication (the joint audit hides more until nothing hidden anywhere can be
    recovered from all publications together)."""
    new = made.publication(version)
    protect_new(session, new)
    made.main.frozen = new.published


def draft(
    session: Session, quarter: str, sources: Sources, status: dict[str, Any], restated: bool
) -> Draft:
    """The report of ``quarter`` as it stands now, headed by ``status``."""
    quarters = recent_quarters(quarter, TREND_QUARTERS)
    figures = quarters_figures(session, quarters, sources, restated)
    corrections, corrects = corrections_for(session, quarter, sources.closed)
    live = figures[quarter].internal  # a draft's own quarter is never taken from a snapshot
    report = {"quarter": quarter, **status, "suppressed": False}
    report |= {key: live[key] for key in ("rows", "cluster_totals", "municipality_totals")}
    main = Figures(report | {"corrections": corrections}, sources.threshold)
    trend = [(q, figures[q]) for q in quarters[:-1]] + [(quarter, main)]
    org = sources.organisation
    earlier = sources.closed.get(quarter) or _latest(session, quarter)
    keep = hidden_keys(earlier.report(True)) if earlier is not None else set()
    return Draft(
        main,
        trend,
        deviations(session, quarter, org),
        exit_reasons(session, quarter, org),
        org,
        sources.threshold,
        corrects,
        keep,
    )


def _latest(session: Session, quarter: str) -> Snapshot | None:
    versions = snapshot_versions(session, quarter)
    return versions[-1] if versions else None


def build_report(
    session: Session,
    quarter: str,
    suppress: bool = True,
    restated: bool = False,
    version: int | None = None,
    scope: Collection[str] | None = None,
) -> ReportBook:
    """The kwartaalrapportage of ``quarter``: as published (``suppress``) or internal; a
    closed quarter as its snapshot froze it (``version``: that snapshot version), unless
    ``restated`` asks for the figures as they stand now; within ``scope`` when given."""
    quarter = report_quarter(quarter)
    if version is not None:
        book = _version(session, quarter, version, restated).book(suppress)
    else:
        sources = Sources.load(session)
        snapshot = sources.closed.get(quarter)
        if snapshot is not None and not restated:
            book = snapshot.book(suppress)
        else:
            if suppress:
                raise RuleViolation(_not_published(quarter, snapshot is not None))
            book = draft(session, quarter, sources, _status(snapshot), restated).book(False)
    if not suppress:
        book.report = book.report | {"classification": INTERNAL}
    return book if scope is None else book.within(scope)


def check_published(session: Session, quarter: str, restated: bool = False) -> None:
    """Refuse, as ``build_report`` would, the published version of a quarter that has none
    (so an entry point can say so before it starts any work)."""
    closed = quarter in current_snapshots(session)
    if restated or not closed:
        raise RuleViolation(_not_published(quarter, closed))


def _not_published(quarter: str, closed: bool) -> str:
    if closed:
        return (
            f"De herberekende cijfers van {quarter} zijn intern en worden niet gepubliceerd; "
            f"vraag ze ongemaskeerd op ({ASK_INTERNAL}). De gepubliceerde cijfers zijn die van "
            "de vaststelling plus de later gepubliceerde correcties."
        )
    return (
        f"Kwartaal {quarter} is voorlopig en wordt niet gepubliceerd: alleen een vastgesteld "
        f"kwartaal heeft een publicatieversie. Stel het eerst vast, of vraag de cijfers "
        f"ongemaskeerd op ({ASK_INTERNAL})."
    )


ASK_INTERNAL = "intern, niet publiceren: --no-suppress, in de API suppress=false"


def _status(snapshot: Snapshot | None) -> dict[str, Any]:
    if snapshot is None:
        return {"status": PROVISIONAL}
    closed_at = snapshot.content["closed_at"]
    return {"status": CLOSED, "closed_at": closed_at, "version": snapshot.version, "restated": True}


def _version(session: Session, quarter: str, version: int, restated: bool) -> Snapshot:
    if restated:
        raise InvalidInput(
            "--restated en --version gaan niet samen: een versie is vastgesteld, --restated "
            "geeft de cijfers zoals ze nu zijn."
        )
    snapshot = snapshot_of(session, quarter, version)
    if snapshot is None:
        known = [str(s.version) for s in snapshot_versions(session, quarter)]
        raise InvalidInput(
            f"Kwartaal {quarter} heeft geen vastgestelde versie {version}; "
            f"versies: {', '.join(known) or 'geen (nooit vastgesteld)'}."
        )
    return snapshot
