"""Importing event files (JSON Lines and CSV): every line atomic, refusals reported by line."""

import csv
import json
import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, inspect, text
from sqlmodel import Session, select

from models import Procedure, Transition
from procedures.policy import default_policy
from workflows.importer import ImportSummary, import_events, read_lines

IDFLOW = str(Path(__file__).resolve().parents[1] / ".venv" / "bin" / "idflow")
OPEN = {"directorate": "RE-WON", "scale": 12, "title": "Projectleider", "kind": "external"}
CHECKLIST = dict.fromkeys(default_policy().biws_checklist, True)


def _event(n: int, vacancy: str, event: str, at: Any, data: dict[str, Any] | None = None) -> dict:
    return {
        "id": f"i-{n}",
        "vacancy": vacancy,
        "event": event,
        "at": at,
        "actor": "recruiter-3",
        "data": data or {},
    }


def _write_jsonl(path: Path, lines: list[Any]) -> Path:
    text_lines = [line if isinstance(line, str) else json.dumps(line) for line in lines]
    path.write_text("\n".join(text_lines) + "\n", encoding="utf-8")
    return path


def _import(engine: Engine, path: Path) -> ImportSummary:
    return import_events(engine, read_lines(str(path)))


def _refused_lines(summary: ImportSummary) -> dict[int, str]:
    return dict(summary.refused)


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            name: connection.execute(text(f'SELECT COUNT(*) FROM "{name}"')).scalar_one()
            for name in inspect(engine).get_table_names()
        }


GOOD = [
    _event(1, "V1", "open", "2025-01-06T09:30:00+01:00", OPEN),
    _event(2, "V1", "approve_text", "2025-01-07T09:30:00+01:00"),
    _event(3, "V1", "complete_biws", "2025-02-07T09:30:00+01:00", {"checklist": CHECKLIST}),
    _event(4, "V1", "submit_shortlist", "2025-03-07T09:30:00+01:00", {"invited": 4, "diverse": 2}),
]


def test_a_clean_file_is_applied_and_a_reimport_is_all_duplicates(
    engine: Engine, tmp_path: Path
) -> None:
    path = _write_jsonl(tmp_path / "events.jsonl", GOOD)
    first = _import(engine, path)
    assert (first.applied, first.duplicate, first.refused) == (4, 0, [])
    before = _counts(engine)
    second = _import(engine, path)
    assert (second.applied, second.duplicate, second.refused) == (0, 4, [])
    assert _counts(engine) == before
    with Session(engine) as session:
        assert session.get(Procedure, "V1").state == "selection"  # type: ignore[union-attr]


BAD_LINES: list[tuple[Any, str]] = [
    ('{"id": "b-1", "vacancy": "V1", "event": "approve_text",', "Ongeldige JSON"),
    ("[1, 2, 3]", "JSON-object"),
    (_event(90, "V1", "publish", "2025-01-08T09:00:00+01:00"), "onbekende gebeurtenis 'publish'"),
    (
        _event(91, "V1", "approve_text", "2025-01-08T09:00:00+01:00", {"by": "x"}),
        "by: is geen toegestaan veld",
    ),
    (_event(92, "V1", "approve_text", "2025-01-08T09:00:00+01:00") | {"colour": 1}, "colour"),
    (_event(93, "V1", "approve_text", "gisteren"), "ISO 8601"),
    (_event(95, "V1", "approve_text", 1736150400), "ISO 8601"),  # not Unix time
    # ISO 8601 basic format is a date, not Unix time: 5 January, before the vacancy's open.
    (_event(96, "V1", "approve_text", "20250105"), "Gebeurtenis op 2025-01-05T00:00:00+01:00"),
    (_event(94, "V1", "approve_text", "2025-01-08T09:00:00+01:00") | {"actor": ""}, "actor"),
]


def test_bad_lines_are_refused_with_their_line_numbers_and_the_rest_is_applied(
    engine: Engine, tmp_path: Path
) -> None:
    lines = [GOOD[0], *(line for line, _ in BAD_LINES), GOOD[1]]
    summary = _import(engine, _write_jsonl(tmp_path / "events.jsonl", lines))
    assert (summary.applied, summary.duplicate) == (2, 0)
    refused = _refused_lines(summary)
    assert list(refused) == list(range(2, 2 + len(BAD_LINES)))
    for number, (_, reason) in enumerate(BAD_LINES, 2):
        assert reason in refused[number], (number, refused[number])
    with Session(engine) as session:
        assert session.get(Procedure, "V1").state == "biws"  # type: ignore[union-attr]


SHORTLIST_AT = "2025-03-07T09:30:00+01:00"
BAD_COUNTS: list[tuple[dict[str, Any], str]] = [
    ({"invited": 3, "diverse": 4}, "groter"),
    ({"invited": 0, "diverse": 0}, "invited: moet minstens 1 zijn"),
    ({"invited": "4", "diverse": 2}, "invited: moet een geheel getal zijn"),
    ({"invited": 4, "diverse": "2"}, "diverse: moet een geheel getal zijn"),
    ({"invited": 4.5, "diverse": 2}, "invited"),
    ({"invited": True, "diverse": 1}, "invited"),
    ({"invited": 4, "diverse": -1}, "diverse: moet minstens 0 zijn"),
    ({"invited": 4}, "diverse: ontbreekt"),
]


def test_impossible_shortlist_counts_are_refused_and_leave_nothing_behind(
    engine: Engine, tmp_path: Path
) -> None:
    _import(engine, _write_jsonl(tmp_path / "setup.jsonl", GOOD[:3]))
    before = _counts(engine)
    lines = [
        _event(50 + n, "V1", "submit_shortlist", SHORTLIST_AT, data)
        for n, (data, _) in enumerate(BAD_COUNTS)
    ]
    summary = _import(engine, _write_jsonl(tmp_path / "bad.jsonl", lines))
    assert summary.applied == 0
    refused = _refused_lines(summary)
    assert list(refused) == list(range(1, 1 + len(BAD_COUNTS)))
    for number, (_, reason) in enumerate(BAD_COUNTS, 1):
        assert reason in refused[number], (number, refused[number])
    assert _counts(engine) == before


def test_an_event_earlier_than_the_vacancys_last_one_is_refused(
    engine: Engine, tmp_path: Path
) -> None:
    lines = [
        GOOD[0],
        GOOD[1],
        _event(5, "V1", "cancel", "2025-01-06T23:59:00+01:00"),  # before approve_text
        _event(6, "V2", "open", "2025-01-01T08:00:00+01:00", OPEN),  # other vacancy: fine
    ]
    summary = _import(engine, _write_jsonl(tmp_path / "events.jsonl", lines))
    assert summary.applied == 3
    assert list(_refused_lines(summary)) == [3]
    assert "tijdsvolgorde" in summary.refused[0][1]


def _stored_at(engine: Engine, event_id: str) -> tuple[datetime, str | None]:
    with Session(engine) as session:
        row = session.exec(select(Transition).where(Transition.event_id == event_id)).one()
    return row.at, row.quarter


def test_timestamps_without_offset_are_amsterdam_time_and_z_is_utc(
    engine: Engine, tmp_path: Path
) -> None:
    lines = [
        _event(1, "V1", "open", "2025-03-20T09:00:00", OPEN),  # naive, CET (+01:00)
        _event(2, "V1", "approve_text", "2025-04-01T00:30:00"),  # naive, CEST (+02:00)
        _event(3, "V2", "open", "2025-06-01T09:00:00Z", OPEN),
        _event(4, "V2", "deviate_text", "2025-06-30T22:30:00Z"),  # 1 July 00:30 Amsterdam
    ]
    summary = _import(engine, _write_jsonl(tmp_path / "events.jsonl", lines))
    assert summary.applied == 4, summary.refused
    assert _stored_at(engine, "i-1")[0] == datetime(2025, 3, 20, 8, 0, tzinfo=UTC)
    assert _stored_at(engine, "i-2") == (datetime(2025, 3, 31, 22, 30, tzinfo=UTC), "2025Q2")
    assert _stored_at(engine, "i-3")[0] == datetime(2025, 6, 1, 9, 0, tzinfo=UTC)
    assert _stored_at(engine, "i-4") == (datetime(2025, 6, 30, 22, 30, tzinfo=UTC), "2025Q3")


def _write_csv(path: Path, events: list[dict[str, Any]], extra: list[list[str]] = ()) -> Path:  # type: ignore[assignment]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "vacancy", "event", "at", "actor", "data"])
        for e in events:
            data = json.dumps(e["data"]) if e["data"] else ""
            writer.writerow([e["id"], e["vacancy"], e["event"], e["at"], e["actor"], data])
        for row in extra:
            writer.writerow(row)
    return path


def test_a_csv_file_with_the_same_columns_and_json_data_is_imported_like_jsonl(
    engine: Engine, tmp_path: Path
) -> None:
    bad = [
        ["c-1", "V1", "deviate_biws", "2025-03-01T10:00:00+01:00", "a", "{not json"],
        ["c-2", "V1", "deviate_biws", "2025-03-01T10:00:00+01:00", "a"],
        ["c-3", "V1", "deviate_biws", "2025-03-01T10:00:00+01:00", "a", '{"explanation": "Ok"}'],
    ]
    path = _write_csv(tmp_path / "events.csv", GOOD[:2], bad)
    summary = _import(engine, path)
    assert (summary.applied, summary.duplicate) == (3, 0)
    assert list(_refused_lines(summary)) == [4, 5]
    assert "geen geldige JSON" in summary.refused[0][1]
    with Session(engine) as session:
        procedure = session.get(Procedure, "V1")
        assert procedure is not None
        assert (procedure.state, procedure.outcome_biws) == ("shortlist", "explained")
    assert _import(engine, path).duplicate == 3


def test_a_csv_file_with_the_wrong_header_is_refused_as_a_whole(
    engine: Engine, tmp_path: Path
) -> None:
    from procedures.errors import InvalidInput

    path = tmp_path / "events.csv"
    path.write_text("id,vacancy,event,when,actor,data\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="verwacht: id,vacancy,event,at,actor,data"):
        _import(engine, path)


def test_each_event_is_atomic_a_refused_line_between_good_ones_changes_nothing(
    engine: Engine, tmp_path: Path
) -> None:
    lines = [
        GOOD[0],
        GOOD[1],
        _event(7, "V1", "complete_biws", "2025-02-07T09:30:00+01:00", {"checklist": {}}),
        _event(8, "V1", "deviate_biws", "2025-02-08T09:30:00+01:00"),
    ]
    summary = _import(engine, _write_jsonl(tmp_path / "events.jsonl", lines))
    assert summary.applied == 3 and list(_refused_lines(summary)) == [3]
    with Session(engine) as session:
        events = [
            t.event
            for t in session.exec(select(Transition).order_by(Transition.seq))  # type: ignore[arg-type]
        ]
    assert events == ["open", "approve_text", "deviate_biws"]


def test_a_reused_id_in_the_file_is_refused_and_a_repeated_line_is_a_duplicate(
    engine: Engine, tmp_path: Path
) -> None:
    lines = [GOOD[0], GOOD[1], GOOD[1], GOOD[2] | {"id": "i-2"}]
    summary = _import(engine, _write_jsonl(tmp_path / "events.jsonl", lines))
    assert (summary.applied, summary.duplicate) == (2, 1)
    assert list(_refused_lines(summary)) == [4]
    assert "al gebruikt" in summary.refused[0][1]


def _cli(args: list[str], db_url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"IDFLOW_DATABASE_URL": db_url}
    return subprocess.run([IDFLOW, *args], env=env, cwd=cwd, capture_output=True, text=True)


def test_idflow_import_prints_the_summary_with_line_numbers_and_exits_non_zero_on_refusals(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    lines = [
        GOOD[0],
        "{broken",
        GOOD[1],
        "",
        _event(9, "V1", "hire", "2025-01-08T09:00:00+01:00"),
        GOOD[1],
    ]
    path = _write_jsonl(tmp_path / "events.jsonl", lines)
    result = _cli(["import", str(path)], db_url, tmp_path)
    assert result.returncode != 0
    assert "Import: 2 verwerkt, 1 dubbel, 2 geweigerd." in result.stderr
    assert "regel 2: Ongeldige JSON" in result.stderr
    assert "regel 5:" in result.stderr and "'hire' is niet toegestaan" in result.stderr
    assert result.stdout == ""


def test_idflow_import_of_a_clean_csv_exits_zero_and_a_second_run_is_all_duplicates(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    path = _write_csv(tmp_path / "events.csv", GOOD)
    first = _cli(["import", str(path)], db_url, tmp_path)
    assert first.returncode == 0, first.stderr
    assert "Import: 4 verwerkt, 0 dubbel, 0 geweigerd." in first.stderr
    second = _cli(["import", str(path)], db_url, tmp_path)
    assert second.returncode == 0, second.stderr
    assert "Import: 0 verwerkt, 4 dubbel, 0 geweigerd." in second.stderr


def test_values_too_large_for_the_columns_and_future_moments_are_refused_lines_not_a_crash(
    engine: Engine, tmp_path: Path
) -> None:
    lines = [
        _event(1, "V1", "open", "2025-01-06T09:30:00+01:00", OPEN | {"scale": 10**20}),
        _event(2, "V2", "open", "2025-01-06T09:30:00+01:00", OPEN | {"title": "T" * 301}),
        _event(3, "V3", "open", "2025-01-06T09:30:00+01:00", OPEN | {"directorate": "X" * 33}),
        _event(4, "V4", "open", "2052-01-06T09:30:00+01:00", OPEN),
        GOOD[0],
    ]
    summary = _import(engine, _write_jsonl(tmp_path / "events.jsonl", lines))
    refused = _refused_lines(summary)
    assert summary.applied == 1 and list(refused) == [1, 2, 3, 4]
    assert "scale: mag hoogstens 18 zijn" in refused[1]
    assert "title: is te lang (hoogstens 300 tekens)" in refused[2]
    assert "directorate: is te lang (hoogstens 32 tekens)" in refused[3]
    assert "ligt in de toekomst" in refused[4]
    with Session(engine) as session:
        assert [p.vacancy for p in session.exec(select(Procedure))] == ["V1"]


def test_a_csv_header_with_spaces_around_the_names_is_read_as_the_names(
    engine: Engine, tmp_path: Path
) -> None:
    path = _write_csv(tmp_path / "events.csv", GOOD[:1])
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[0] = "id, vacancy, event, at, actor, data"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    summary = _import(engine, path)
    assert (summary.applied, summary.refused) == (1, [])


def test_a_file_that_is_not_utf8_is_refused_whole_and_a_huge_csv_field_is_one_refused_line(
    engine: Engine, tmp_path: Path
) -> None:
    from procedures.errors import InvalidInput

    latin = tmp_path / "latin1.jsonl"
    latin.write_bytes(json.dumps(GOOD[0]).encode() + b"\n" + '{"café"}'.encode("latin-1") + b"\n")
    with pytest.raises(InvalidInput, match=r"geen UTF-8-tekst \(regel 2"):
        _import(engine, latin)
    assert _counts(engine)["transition"] == 0
    huge = ["h-1", "V9", "approve_text", "2025-01-07T09:30:00+01:00", "a", "x" * 200_000]
    path = _write_csv(tmp_path / "events.csv", GOOD[:2], [huge])
    summary = _import(engine, path)
    assert summary.applied == 2
    [(line, reason)] = summary.refused
    assert line == 4 and "Onleesbare CSV-regel" in reason


def test_idflow_import_on_a_database_without_tables_says_to_run_init(tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path / "events.jsonl", GOOD[:1])
    result = _cli(["import", str(path)], f"sqlite:///{tmp_path / 'leeg.db'}", tmp_path)
    assert result.returncode == 4, result.stderr
    assert "nog niet ingericht" in result.stderr and "idflow init" in result.stderr
    assert "Traceback" not in result.stderr


# -- reading the file as a stream ----------------------------------------------------------


def test_a_large_file_is_read_a_chunk_at_a_time_not_held_in_memory_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tracemalloc

    from workflows import importer

    monkeypatch.setattr(importer, "CHUNK", 64 * 1024, raising=False)
    lines = [_event(n, f"V{n}", "open", "2025-01-06T09:30:00+01:00", OPEN) for n in range(20_000)]
    path = _write_jsonl(tmp_path / "large.jsonl", lines)
    assert path.stat().st_size > 3_000_000
    tracemalloc.start()
    try:
        read = sum(1 for _ in read_lines(str(path)))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert read == len(lines)
    assert peak < 1_000_000, (
        f"{peak:,} bytes held while reading a {path.stat().st_size:,} byte file"
    )


def test_characters_cut_by_a_chunk_boundary_are_read_whole_and_a_late_bad_byte_says_where(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from procedures.errors import InvalidInput
    from workflows import importer

    accented = [GOOD[0] | {"actor": "coördinator-één"}, *GOOD[1:]] * 3
    lines = [line | {"id": f"i-{n}"} for n, line in enumerate(accented)]
    good = _write_jsonl(tmp_path / "good.jsonl", lines)
    whole = list(read_lines(str(good)))
    for chunk in (1, 2, 3, 7, 64):
        monkeypatch.setattr(importer, "CHUNK", chunk, raising=False)
        assert list(read_lines(str(good))) == whole, chunk
    content = good.read_bytes()
    bad = content + '{"café": 1}\n'.encode("latin-1")
    (tmp_path / "bad.jsonl").write_bytes(bad)
    expected = f"regel {len(lines) + 1}, byte {len(content) + 6}"  # {"caf, then the é
    with pytest.raises(InvalidInput, match=expected):
        _import(engine, tmp_path / "bad.jsonl")
    assert _counts(engine)["transition"] == 0
