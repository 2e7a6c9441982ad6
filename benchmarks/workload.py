"""The workload: a realistic municipality's procedures as import events (the import format)."""

import json
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from procedures.organisation import parse_org_csv, sample_csv
from procedures.policy import default_policy
from workflows.simulate import Simulator

START, END = date(2023, 1, 1), datetime(2026, 10, 1, tzinfo=UTC)
# Events per (vacancies per directorate per year): 47 directorates x 3.75 years x ~6 events.
EVENTS_PER_UNIT_RATE = 47 * 3.75 * 6.0


def directorates() -> list[str]:
    return [row.directorate_code for row in parse_org_csv(sample_csv())]


def events(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """About ``count`` events of complete procedures, every phase, for every directorate."""
    return list(stream(count, seed))


def stream(count: int, seed: int = 7) -> Iterator[dict[str, Any]]:
    """The same events one at a time, so that millions of them never sit in memory: at least
    ``count``, up to the end of the vacancy under way (every event stays valid)."""
    per_year = max(1.0, count / EVENTS_PER_UNIT_RATE)
    produced, last = 0, ""
    while produced < count:
        prefix = f"s{seed + produced}-"
        simulator = Simulator(default_policy(), directorates(), seed + produced)
        for event in simulator.events(START, END, per_year):
            vacancy = prefix + event["vacancy"]
            if produced >= count and vacancy != last:
                return
            produced, last = produced + 1, vacancy
            yield event | {"id": prefix + event["id"], "vacancy": vacancy}


def write_jsonl(items: Iterable[dict[str, Any]], path: Path) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for item in items:
            handle.write(json.dumps(item, ensure_ascii=False) + "\n")
    return path
