"""The yearly audit sample (steekproef): procedures drawn at random, stratified by cluster.

Proportional allocation by largest remainder, with at least one procedure from every cluster
that opened any (when the sample is big enough for that). The same year, size and seed always
give the same sample.
"""

import math
import random
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from models import Directorate, Procedure
from procedures.errors import InvalidInput
from procedures.policy import AMSTERDAM

COLUMNS = (
    "vacancy",
    "directorate",
    "cluster",
    "title",
    "scale",
    "kind",
    "state",
    "outcome_text",
    "opened_at",
)


@dataclass(frozen=True)
class Sample:
    year: int
    seed: int
    population: dict[str, int]  # cluster -> procedures opened that year
    allocation: dict[str, int]  # cluster -> procedures drawn
    rows: list[dict[str, Any]]


def draw_sample(session: Session, year: int, size: int, seed: int) -> Sample:
    """``size`` procedures opened in ``year`` (Amsterdam time), stratified by cluster."""
    if size < 1:
        raise InvalidInput(f"Ongeldige steekproefgrootte {size}: kies 1 of meer.")
    strata = _strata(session, year)
    allocation = allocate({cluster: len(rows) for cluster, rows in strata.items()}, size)
    rng = random.Random(f"idflow-steekproef-{year}-{seed}")
    drawn = []
    for cluster in sorted(strata):
        drawn += rng.sample(strata[cluster], allocation[cluster])
    drawn.sort(key=lambda row: (row["cluster"], row["vacancy"]))
    population = {cluster: len(rows) for cluster, rows in strata.items()}
    return Sample(year, seed, population, allocation, drawn)


def _strata(session: Session, year: int) -> dict[str, list[dict[str, Any]]]:
    start = datetime(year, 1, 1, tzinfo=AMSTERDAM)
    end = datetime(year + 1, 1, 1, tzinfo=AMSTERDAM)
    statement = (
        select(Procedure, Directorate.cluster_code)
        .join(Directorate, Directorate.code == Procedure.directorate)  # type: ignore[arg-type]
        .where(Procedure.opened_at >= start, Procedure.opened_at < end)
        .order_by(Procedure.vacancy)  # type: ignore[arg-type]
    )
    strata: dict[str, list[dict[str, Any]]] = {}
    for procedure, cluster in session.exec(statement):
        strata.setdefault(cluster, []).append(_row(procedure, cluster))
    return strata


def _row(procedure: Procedure, cluster: str) -> dict[str, Any]:
    # Only what the agency checks the vacancy text against: no staff number, no dates of people.
    return {
        "vacancy": procedure.vacancy,
        "directorate": procedure.directorate,
        "cluster": cluster,
        "title": procedure.title,
        "scale": procedure.scale,
        "kind": procedure.kind,
        "state": procedure.state,
        "outcome_text": procedure.outcome_text or "",
        "opened_at": procedure.opened_at.astimezone(AMSTERDAM).isoformat(timespec="minutes"),
    }


def allocate(population: dict[str, int], size: int) -> dict[str, int]:
    """Proportional allocation (largest remainder); one per non-empty stratum where possible."""
    total = sum(population.values())
    if size >= total:
        return dict(population)
    exact = {c: size * n / total for c, n in population.items()}
    quota = {c: min(n, math.floor(exact[c])) for c, n in population.items()}
    nonempty = sorted((c for c, n in population.items() if n), key=lambda c: (-population[c], c))
    for cluster in nonempty[:size]:  # the largest strata first when not every one can have one
        quota[cluster] = max(quota[cluster], 1)
    while sum(quota.values()) > size:  # the minimum of one overshot: take back from the biggest
        cluster = max((c for c in quota if quota[c] > 1), key=lambda c: (quota[c] - exact[c], c))
        quota[cluster] -= 1
    room = sorted(
        (c for c in population if quota[c] < population[c]),
        key=lambda c: (-(exact[c] - quota[c]), c),
    )
    for cluster in room[: size - sum(quota.values())]:
        quota[cluster] += 1
    return quota
