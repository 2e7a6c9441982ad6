"""Reads answered from memory: what a batch has accepted so far, and the rule tests' store.

The store's reads fill it from the database for a batch; the rule tests use it alone, with
the policies and directorates they name, and no database.
"""

from collections.abc import Mapping

from procedures.policy import Policy
from procedures.rows import Earlier, Plan, ProcedureRow


class MemoryReads:
    """The planner's ``Reads`` from dictionaries: the rows known so far, and every plan
    accepted since, so that a later event sees the earlier ones."""

    def __init__(
        self,
        policies: Mapping[int, Policy] | None = None,
        directorates: Mapping[str, bool] | None = None,
    ) -> None:
        self.procedures: dict[str, ProcedureRow] = {}
        self.used: dict[str, Earlier] = {}
        self.quarters: dict[tuple[str, str], str | None] = {}  # (vacancy, indicator): quarter
        self.policies = dict(policies or {})
        self.directorates = dict(directorates or {})

    def procedure(self, vacancy: str) -> ProcedureRow | None:
        return self.procedures.get(vacancy)

    def reread(self, vacancy: str) -> ProcedureRow | None:
        return self.procedures.get(vacancy)

    def earlier(self, event_id: str) -> Earlier | None:
        return self.used.get(event_id)

    def policy(self, version: int | None) -> Policy:
        return self.policies[max(self.policies) if version is None else version]

    def directorate_active(self, code: str) -> bool:
        return self.directorates.get(code, False)

    def step_quarter(self, vacancy: str, indicator: str) -> str | None:
        return self.quarters.get((vacancy, indicator))

    def accept(self, plan: Plan) -> None:
        """Let the events after this one see what it wrote."""
        row = plan.transition
        self.procedures[row.vacancy] = plan.procedure
        self.used[row.event_id] = Earlier(
            row.event_id,
            row.digest,
            row.vacancy,
            row.seq,
            row.event,
            row.target,
            row.outcome,
            row.round,
        )
        if row.indicator is not None and row.event != "explain":
            self.quarters[(row.vacancy, row.indicator)] = row.quarter
