"""Import events from a file (JSON Lines or CSV): each event atomic, refused lines reported.

Events go through the engine a batch at a time (``apply_events``: the same decision for each
event as one by one, written together); each batch is one commit. Re-running a file applies
nothing twice: ids already applied are duplicates.
"""

import codecs
import csv
import io
import json
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from models import get_settings
from models.database import storage_failure
from procedures.engine import apply_events
from procedures.errors import ConflictError, InvalidInput, RefusedError, StorageError
from procedures.events import parse_event

CSV_COLUMNS = ["id", "vacancy", "event", "at", "actor", "data"]
Line = tuple[int, Any]  # (line number, raw event dict or an InvalidInput for that line)
CHUNK = 1 << 20  # bytes read at a time


@dataclass
class ImportSummary:
    applied: int = 0
    duplicate: int = 0
    refused: list[tuple[int, str]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.applied + self.duplicate + len(self.refused)


def read_lines(path: str, fmt: str | None = None) -> Iterator[Line]:
    """Raw events with their line numbers; ``-`` reads standard input.

    The file is read a chunk at a time, so memory stays flat in its size: a first pass
    checks that it is UTF-8 (a file that is not is refused before any event is applied),
    a second one reads the events. Standard input, which can be read only once, is kept in
    a temporary file for the two passes.
    """
    if path != "-" and not Path(path).is_file():
        raise InvalidInput(f"Bestand '{path}' bestaat niet of is geen bestand.")
    fmt = fmt or ("csv" if path.lower().endswith(".csv") else "jsonl")
    if fmt not in ("csv", "jsonl"):
        raise InvalidInput(f"Onbekend formaat '{fmt}'; kies jsonl of csv.")
    with _seekable(path) as handle:
        _check_utf8(handle)
        handle.seek(0)
        stream = io.TextIOWrapper(handle, encoding="utf-8-sig", newline="")
        yield from (_csv_lines(stream) if fmt == "csv" else _jsonl_lines(stream))


def _seekable(path: str) -> BinaryIO:
    if path != "-":
        return open(path, "rb")
    copy = tempfile.TemporaryFile()  # noqa: SIM115 (the caller's with-block closes it)
    shutil.copyfileobj(sys.stdin.buffer, copy, CHUNK)
    return copy


def _check_utf8(handle: BinaryIO) -> None:
    """Read the whole file once, a chunk at a time; ``InvalidInput`` where it is not UTF-8."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    read = lines = 0  # bytes and line ends before the chunk
    while True:
        chunk = handle.read(CHUNK)
        pending = len(decoder.getstate()[0])  # the start of a character cut off by the chunk
        try:
            decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as error:
            before = error.object[: error.start]
            line, byte = lines + before.count(b"\n") + 1, read - pending + error.start + 1
            raise _not_utf8(line, byte) from None
        if not chunk:
            return
        read, lines = read + len(chunk), lines + chunk.count(b"\n")


def decode_utf8(raw: bytes) -> str:
    """The file's text (a leading byte-order mark dropped), or ``InvalidInput`` saying where."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise _not_utf8(raw[: error.start].count(b"\n") + 1, error.start + 1) from None


def _not_utf8(line: int, byte: int) -> InvalidInput:
    return InvalidInput(
        f"Het bestand is geen UTF-8-tekst (regel {line}, byte {byte}); "
        "sla het op als UTF-8 en probeer het opnieuw. Er is niets verwerkt."
    )


def _jsonl_lines(stream: Iterable[str]) -> Iterator[Line]:
    for number, line in enumerate(stream, 1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as error:
            yield number, InvalidInput(f"Ongeldige JSON: {error.msg} (kolom {error.colno}).")


def _csv_lines(stream: io.TextIOBase | Any) -> Iterator[Line]:
    reader = csv.DictReader(stream)
    if reader.fieldnames is None or [h.strip() for h in reader.fieldnames] != CSV_COLUMNS:
        found = ",".join(reader.fieldnames or [])
        raise InvalidInput(f"CSV-kop '{found}' is onjuist; verwacht: {','.join(CSV_COLUMNS)}.")
    reader.fieldnames = CSV_COLUMNS  # the header as checked, without spaces around names
    for row in _csv_rows(reader):
        if isinstance(row, InvalidInput):  # the reader stopped before counting that line
            yield reader.line_num + 1, row
            continue
        number = reader.line_num
        if None in row or any(value is None for value in row.values()):
            yield number, InvalidInput(f"Verwacht {len(CSV_COLUMNS)} kolommen.")
            continue
        try:
            data = json.loads(row["data"]) if row["data"].strip() else {}
        except json.JSONDecodeError as error:
            yield number, InvalidInput(f"Kolom data is geen geldige JSON: {error.msg}.")
            continue
        yield number, {**row, "data": data}


def _csv_rows(reader: csv.DictReader) -> Iterator[dict[str, Any] | InvalidInput]:
    """The rows, a malformed one (say a field over the csv module's limit) as its refusal."""
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield InvalidInput(
                f"Onleesbare CSV-regel ({error}): een veld is langer dan "
                f"{csv.field_size_limit()} tekens of de aanhalingstekens kloppen niet."
            )


def import_events(
    engine: Engine,
    lines: Iterable[Line],
    origin: str = "import",
    on_progress: Callable[[int], None] | None = None,
) -> ImportSummary:
    """Apply every line through the engine, a batch per commit; refused lines are counted,
    never half-applied."""
    summary = ImportSummary()
    batch, committed = get_settings().import_batch_size, 0
    with Session(engine, expire_on_commit=False) as session:
        try:
            for chunk in batched(lines, batch):
                _apply_batch(session, chunk, origin, summary)
                session.commit()
                committed = summary.applied
                if on_progress:
                    on_progress(len(chunk))
        except DBAPIError as error:
            session.rollback()
            raise StorageError(
                f"{storage_failure(error)}; {committed} gebeurtenissen uit eerdere batches "
                "zijn vastgelegd, de lopende batch niet. Start de import opnieuw: al verwerkte "
                "regels worden als dubbel herkend."
            ) from None
    return summary


def batched(lines: Iterable[Line], size: int) -> Iterator[list[Line]]:
    iterator = iter(lines)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _apply_batch(session: Session, chunk: list[Line], origin: str, summary: ImportSummary) -> None:
    numbers, events, refused = [], [], []
    for number, raw in chunk:
        try:
            if isinstance(raw, InvalidInput):
                raise raw
            events.append(parse_event(raw))
            numbers.append(number)
        except RefusedError as error:
            refused.append((number, str(error)))
    for number, outcome in zip(numbers, apply_events(session, events, origin), strict=True):
        if isinstance(outcome, RefusedError | ConflictError):
            refused.append((number, str(outcome)))
        elif outcome.status == "duplicate":
            summary.duplicate += 1
        else:
            summary.applied += 1
    summary.refused += sorted(refused)  # in line order, as the file reads
