"""The tamper-evident transition log: each row's hash covers its content and the previous hash."""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, select

from models import Procedure, Transition
from procedures.events import sha256_json, utc_iso

GENESIS = "0" * 64
HASHED_FIELDS = (
    "vacancy",
    "seq",
    "event_id",
    "digest",
    "event",
    "source",
    "target",
    "outcome",
    "indicator",
    "quarter",
    "round",
    "directorate",
    "policy_version",
    "actor",
    "origin",
    "at",
    "recorded_at",
    "data",
)


def transition_hash(row: Any) -> str:
    """The hash a transition row (stored, or about to be) must carry, given its content and
    ``prev_hash``."""
    content: dict[str, Any] = {name: getattr(row, name) for name in HASHED_FIELDS}
    content["at"] = utc_iso(row.at)
    content["recorded_at"] = utc_iso(row.recorded_at)
    return sha256_json({"prev": row.prev_hash, "row": content})


@dataclass(frozen=True)
class ChainBreak:
    vacancy: str
    seq: int
    reason: str


def verify_log(session: Session) -> tuple[int, list[ChainBreak]]:
    """Walk every vacancy's chain; return the number of rows checked and every break found.

    Each chain must also end where its procedure says it ends (sequence number, hash and
    state): otherwise removing the newest rows of a chain would leave no trace.
    """
    checked, breaks = 0, []
    heads = {
        vacancy: (seq, head_hash, state)
        for vacancy, seq, head_hash, state in session.exec(
            select(Procedure.vacancy, Procedure.seq, Procedure.head_hash, Procedure.state)
        )
    }
    for vacancy, rows in _chains(session):
        previous, expected_seq = GENESIS, 1
        for row in rows:
            checked += 1
            if row.seq != expected_seq:
                breaks.append(ChainBreak(vacancy, row.seq, f"volgnummer {expected_seq} ontbreekt"))
            if row.prev_hash != previous:
                breaks.append(
                    ChainBreak(vacancy, row.seq, "verwijzing naar vorige regel klopt niet")
                )
            if transition_hash(row) != row.hash:
                breaks.append(ChainBreak(vacancy, row.seq, "inhoud gewijzigd (hash klopt niet)"))
            previous, expected_seq = row.hash, row.seq + 1
        breaks += _head_breaks(vacancy, rows[-1], heads.pop(vacancy, None))
    for vacancy, (seq, _, _) in sorted(heads.items()):
        breaks.append(ChainBreak(vacancy, seq, "alle regels van deze vacature ontbreken"))
    return checked, breaks


def _head_breaks(
    vacancy: str, last: Transition, head: tuple[int, str, str] | None
) -> list[ChainBreak]:
    """The chain's last row against the procedure that it should have produced."""
    seq, head_hash, state = (0, "", "") if head is None else head
    if last.seq > seq:  # the procedure was read before a writer committed: not a break
        return []
    if last.seq < seq:
        return [ChainBreak(vacancy, seq, f"regels na volgnummer {last.seq} ontbreken")]
    if head_hash != last.hash:
        return [ChainBreak(vacancy, seq, "laatste regel wijkt af van de procedure")]
    if state != last.target:
        return [ChainBreak(vacancy, seq, f"toestand '{state}' volgt niet uit het logboek")]
    return []


def _chains(session: Session) -> Iterator[tuple[str, list[Transition]]]:
    statement = select(Transition).order_by(Transition.vacancy, Transition.seq)  # type: ignore[arg-type]
    current: str | None = None
    rows: list[Transition] = []
    for row in session.exec(statement.execution_options(yield_per=2000)):
        if row.vacancy != current and rows:
            yield current or "", rows
            rows = []
        current = row.vacancy
        rows.append(row)
    if rows:
        yield current or "", rows
