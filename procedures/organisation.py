"""The organisation as data: clusters and directorates, loaded from CSV.

Codes are stable; names and a directorate's cluster may change. A directorate missing from a
new file stays (its procedures keep it) but is marked inactive, so nothing new opens there.
"""

import csv
import io
import re
from dataclasses import dataclass
from importlib import resources

from sqlmodel import Session, select

from models import Cluster, Directorate
from procedures.errors import InvalidInput
from procedures.fields import LIMITS, one_line_problem, shown

HEADER = ["cluster_code", "cluster_name", "directorate_code", "directorate_name"]
_CODE = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")


@dataclass(frozen=True)
class OrgRow:
    cluster_code: str
    cluster_name: str
    directorate_code: str
    directorate_name: str


@dataclass(frozen=True)
class OrgLoadResult:
    clusters: int
    directorates: int
    added: int
    updated: int
    deactivated: int


def sample_csv() -> str:
    """The example organisation shipped with idflow (clearly marked as example data)."""
    path = resources.files("procedures").joinpath("data/sample_organisation.csv")
    return path.read_text("utf-8")


def parse_org_csv(text: str) -> list[OrgRow]:
    """Parse and check the whole file; any problem refuses it all, with line numbers."""
    reader = csv.reader(io.StringIO(text, newline=""))
    records = []  # (line number, fields): comment lines (#) and empty lines left out
    try:
        for fields in reader:
            if fields and any(f.strip() for f in fields) and not fields[0].startswith("#"):
                records.append((reader.line_num, fields))
    except csv.Error as error:
        raise InvalidInput(f"Regel {reader.line_num + 1}: onleesbare CSV ({error}).") from None
    if not records:
        raise InvalidInput(f"Het organisatiebestand is leeg; verwacht kop: {','.join(HEADER)}.")
    (first, header_fields), body = records[0], records[1:]
    header = [h.strip() for h in header_fields]
    if header != HEADER:
        raise InvalidInput(
            f"Regel {first}: kop '{','.join(header)}' is onjuist; verwacht: {','.join(HEADER)}."
        )
    if not body:
        # Loading it would deactivate every directorate: nobody could open a vacancy.
        raise InvalidInput(
            "Het organisatiebestand bevat geen directies (alleen de kop); er is niets geladen."
        )
    rows, problems = [], []
    for number, fields in body:
        problem = _row_problem(fields)
        if problem:
            problems.append(f"regel {number}: {problem}")
        else:
            rows.append(OrgRow(*(f.strip() for f in fields)))
    problems += _consistency_problems(rows)
    if problems:
        raise InvalidInput("Organisatiebestand geweigerd: " + "; ".join(problems) + ".")
    return rows


def _row_problem(fields: list[str]) -> str | None:
    if len(fields) != len(HEADER):
        return f"{len(fields)} velden in plaats van {len(HEADER)}"
    values = [f.strip() for f in fields]
    empty = [name for name, value in zip(HEADER, values, strict=True) if not value]
    if empty:
        return f"leeg veld {', '.join(empty)}"
    for name in ("cluster_code", "directorate_code"):
        value = values[HEADER.index(name)]
        if not _CODE.match(value):
            return (
                f"{name} '{shown(value)}' mag alleen letters, cijfers en - . _ bevatten (1 tot 32)"
            )
    for name in ("cluster_name", "directorate_name"):
        value = values[HEADER.index(name)]
        if len(value) > LIMITS["name"]:
            return f"{name} is te lang (hoogstens {LIMITS['name']} tekens)"
        if one_line_problem(value):
            return f"{name} {one_line_problem(value)}"
    return None


def _consistency_problems(rows: list[OrgRow]) -> list[str]:
    problems: list[str] = []
    cluster_names: dict[str, str] = {}
    seen: set[str] = set()
    for row in rows:
        name = cluster_names.setdefault(row.cluster_code, row.cluster_name)
        if name != row.cluster_name:
            problems.append(
                f"cluster {row.cluster_code} heeft twee namen ('{name}', '{row.cluster_name}')"
            )
        if row.directorate_code in seen:
            problems.append(f"directie {row.directorate_code} staat er twee keer in")
        seen.add(row.directorate_code)
    return problems


def load_organisation(session: Session, rows: list[OrgRow]) -> OrgLoadResult:
    """Upsert clusters and directorates; deactivate directorates absent from ``rows``."""
    for code, name in {r.cluster_code: r.cluster_name for r in rows}.items():
        cluster = session.get(Cluster, code) or Cluster(code=code, name=name)
        cluster.name = name
        session.add(cluster)
    existing = {d.code: d for d in session.exec(select(Directorate))}
    added = updated = 0
    for row in rows:
        directorate = existing.pop(row.directorate_code, None)
        if directorate is None:
            directorate = Directorate(code=row.directorate_code, name="", cluster_code="")
            added += 1
        elif (directorate.name, directorate.cluster_code, directorate.active) != (
            row.directorate_name,
            row.cluster_code,
            True,
        ):
            updated += 1
        directorate.name, directorate.cluster_code = row.directorate_name, row.cluster_code
        directorate.active = True
        session.add(directorate)
    for directorate in existing.values():
        directorate.active = False
        session.add(directorate)
    session.flush()
    clusters = len({r.cluster_code for r in rows})
    return OrgLoadResult(clusters, len(rows), added, updated, len(existing))


def organisation_loaded(session: Session) -> bool:
    return session.exec(select(Directorate).limit(1)).first() is not None
