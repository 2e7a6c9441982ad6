"""One kwartaalrapportage as data: its JSON figures, trend, deviations, exit reasons and
the organisation its names come from; stored as is in a closed quarter's snapshot."""

from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from typing import Any

from procedures.calendar import recent_quarters
from procedures.report import PROVISIONAL, TREND_QUARTERS, Line, Organisation


@dataclass
class ReportBook:
    """Everything one kwartaalrapportage shows: figures (the JSON ``report``), trend,
    deviations, exit reasons, and the organisation its names come from."""

    report: dict[str, Any]
    trend: list[dict[str, Any]]
    deviations: list[dict[str, Any]]
    organisation: Organisation
    threshold: int
    exit_reasons: list[dict[str, Any]] = field(default_factory=list)

    @property
    def quarters(self) -> list[str]:
        return recent_quarters(self.report["quarter"], TREND_QUARTERS)

    @property
    def cluster_names(self) -> dict[str, str]:
        return self.organisation.clusters

    @property
    def status(self) -> str:
        return str(self.report.get("status", PROVISIONAL))

    def lines(self, indicator: str) -> Iterator[Line]:
        return self.organisation.walk(self.report, indicator)

    def exit_reason_table(self) -> tuple[list[str], list[tuple[str, list[int | str]]]]:
        """The exit reasons as (reason codes, [(cluster name, count per reason)]); 0 absent."""
        reasons = sorted({row["reason"] for row in self.exit_reasons})
        counts = {(row["cluster"], row["reason"]): row["count"] for row in self.exit_reasons}
        clusters = sorted({row["cluster"] for row in self.exit_reasons})
        return reasons, [
            (self.organisation.cluster_name(c), [counts.get((c, r), 0) for r in reasons])
            for c in clusters
        ]

    def within(self, scope: Collection[str]) -> "ReportBook":
        """Only the directorate rows (and corrections) of ``scope``; no totals, trend or
        cluster figures, which cover other directorates too."""
        allowed = set(scope)
        report = self.report | {
            "rows": [r for r in self.report["rows"] if r["directorate"] in allowed],
            "cluster_totals": [],
            "municipality_totals": [],
            "corrections": [
                r for r in self.report.get("corrections", []) if r["directorate"] in allowed
            ],
        }
        deviations = [d for d in self.deviations if d["directorate"] in allowed]
        return ReportBook(report, [], deviations, self.organisation, self.threshold, [])

    def to_json(self) -> dict[str, Any]:
        """The book without its organisation (a snapshot stores that once, beside it)."""
        return {
            "report": self.report,
            "trend": self.trend,
            "deviations": self.deviations,
            "exit_reasons": self.exit_reasons,
            "threshold": self.threshold,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], organisation: Organisation) -> "ReportBook":
        return cls(
            data["report"],
            data["trend"],
            data["deviations"],
            organisation,
            data["threshold"],
            data["exit_reasons"],
        )
