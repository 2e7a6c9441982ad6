"""Quarters and years in Europe/Amsterdam, whatever the offset an event arrived with."""

import re
from datetime import datetime, timedelta

from procedures.errors import InvalidInput
from procedures.policy import AMSTERDAM

_QUARTER = re.compile(r"^(\d{4})Q([1-4])$")


def quarter_of(moment: datetime) -> str:
    """The quarter (``2025Q2``) in which ``moment`` falls, Amsterdam time."""
    local = moment.astimezone(AMSTERDAM)
    return f"{local.year}Q{(local.month - 1) // 3 + 1}"


def year_of(moment: datetime) -> int:
    return moment.astimezone(AMSTERDAM).year


def parse_quarter(text: str) -> tuple[int, int]:
    """``2025Q1`` -> (2025, 1); anything else is refused with the expected form."""
    match = _QUARTER.match(text.strip().upper())
    if not match:
        raise InvalidInput(f"Ongeldig kwartaal '{text}': gebruik de vorm JJJJQn, bijv. 2025Q1.")
    return int(match.group(1)), int(match.group(2))


def shift_quarter(quarter: str, by: int) -> str:
    year, q = parse_quarter(quarter)
    index = year * 4 + (q - 1) + by
    return f"{index // 4}Q{index % 4 + 1}"


def recent_quarters(last: str, count: int) -> list[str]:
    """``count`` quarters ending with ``last``, oldest first."""
    return [shift_quarter(last, -i) for i in reversed(range(count))]


def last_finished_quarter(now: datetime) -> str:
    """The quarter before the one ``now`` falls in."""
    return shift_quarter(quarter_of(now), -1)


def quarter_start(quarter: str) -> datetime:
    year, q = parse_quarter(quarter)
    return datetime(year, 3 * (q - 1) + 1, 1, tzinfo=AMSTERDAM)


def quarter_end(quarter: str) -> datetime:
    return quarter_start(shift_quarter(quarter, 1)) - timedelta(microseconds=1)
