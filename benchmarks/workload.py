"""The workload: a realistic municipality's procedures as import events (the import format)."""

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from procedures.organisation import parse_org_csv, sample_csv
from procedures.policy import default_policy
from workflows.simulate import Simulator

START, END = date(2023, 1, 1), datetime(2026, 10, 1, tzinfo=UTC)
# Events per (vacancies per directorate per year): 47 directorates x 3.75 years x ~6 events.
EVENTS_PER_UNIT_RATE = 47 * 3.75 * 6.0


def events(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """About ``count`` events of complete procedures, every phase, for every directorate."""
    directorates = [row.directorate_code for row in parse_org_csv(sample_csv())]
    per_year = max(1.0, count / EVENTS_PER_UNIT_RATE)
    out: list[dict[str, Any]] = []
    while len(out) < count:
        simulator = Simulator(default_policy(), directorates, seed + len(out))
        batch = list(simulator.events(START, END, per_year))
        prefix = f"s{seed + len(out)}-"
        for event in batch:
            event["id"], event["vacancy"] = prefix + event["id"], prefix + event["vacancy"]
        out.extend(batch)
    return out[: _cut_at_procedure_end(out, count)]


def _cut_at_procedure_end(items: list[dict[str, Any]], count: int) -> int:
    """Cut near ``count`` without separating a vacancy's events (keeps every event valid)."""
    cut = min(count, len(items))
    while 0 < cut < len(items) and items[cut]["vacancy"] == items[cut - 1]["vacancy"]:
        cut += 1
    return cut


def write_jsonl(items: list[dict[str, Any]], path: Path) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for item in items:
            handle.write(json.dumps(item, ensure_ascii=False) + "\n")
    return path
