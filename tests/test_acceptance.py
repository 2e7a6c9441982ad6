"""Issue 2, "Done when": an event file written from DOMAIN.md alone, imported with
``idflow import`` and read back with ``idflow report``, gives exactly the tallies DOMAIN.md
defines for every quarter; and the shortlist's diverse count is nowhere in the database.

The expected tallies are computed here, in plain Python, from the rules of DOMAIN.md; nothing
from ``procedures`` is used for them.
"""

import json
import os
import random
import subprocess
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from support import CHECKLIST

IDFLOW = str(Path(__file__).resolve().parents[1] / ".venv" / "bin" / "idflow")
AMS = ZoneInfo("Europe/Amsterdam")
CLUSTER = {
    "SOC-OJZ": "SOC",
    "RE-WON": "RE",
    "SD-CEN": "SBD",
    "SD-WSP": "SBD",
    "DII-IV": "DII",
    "BV-FIN": "BV",
    "BO-GRF": "BO",
}
INDICATOR = {"text": "I2", "biws": "I3", "rooney": "I4", "onboarding": "I5", "exit_interview": "I6"}
# Distinctive diverse counts: if either were stored, its digits would be in the database file.
SECRET_MET, SECRET_LOW = 7777777, 3333333
WINDOW_START = datetime(2024, 10, 1, tzinfo=AMS)
WINDOW_END = datetime(2025, 9, 30, 18, 0, tzinfo=AMS)


class EventFile:
    """Lines of the import file, each marked as good, duplicate or bad (expected refused)."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, Any]] = []  # (kind, dict or raw text)
        self.count = 0

    def event(
        self, vacancy: str, event: str, at: str, data: dict[str, Any] | None = None, **extra: Any
    ) -> dict[str, Any]:
        self.count += 1
        line = {
            "id": extra.get("id", f"acc-{self.count:04d}"),
            "vacancy": vacancy,
            "event": event,
            "at": at,
            "actor": "recruiter-07",
            "data": data or {},
        }
        self.lines.append((extra.get("kind", "good"), line))
        return line

    def raw(self, text: str) -> None:
        self.lines.append(("bad", text))

    def text(self) -> str:
        return "\n".join(v if isinstance(v, str) else json.dumps(v) for _, v in self.lines) + "\n"


def _iso(moment: datetime) -> str:
    return moment.isoformat()


Step = tuple[datetime, str, dict[str, Any]]


def _random_procedures(events: EventFile, rng: random.Random) -> None:
    """Seeded procedures across directorates and quarters; every event inside the window."""
    per_vacancy = [_random_procedure(number, rng) for number in range(36)]
    merged = sorted(
        (
            (at, f"R-{n:03d}", event, data)
            for n, steps in enumerate(per_vacancy)
            for at, event, data in steps
        ),
        key=lambda item: item[0],
    )
    for at, vacancy, event, data in merged:
        # Alternate offset styles: with offset, UTC with Z, and naive Amsterdam local time.
        style = events.count % 3
        if style == 0:
            text = _iso(at)
        elif style == 1:
            text = at.astimezone(ZoneInfo("UTC")).isoformat().replace("+00:00", "Z")
        else:
            text = at.replace(tzinfo=None).isoformat()
        events.event(vacancy, event, text, data)


def _random_procedure(number: int, rng: random.Random) -> list[Step]:
    """One procedure along DOMAIN.md's steps, with random outcomes; cut off at the window."""
    directorate = rng.choice(sorted(CLUSTER))
    clock = WINDOW_START + timedelta(days=rng.randrange(330), hours=rng.randint(8, 16))
    steps: list[tuple[datetime, str, dict[str, Any]]] = []
    open_data = {"directorate": directorate, "scale": rng.randint(12, 15), "title": "Adviseur"}
    steps.append((clock, "open", open_data | {"kind": "external"}))
    not_met: list[str] = []

    def finish(step: str, met_event: str, deviate: str, data: dict[str, Any]) -> None:
        roll = rng.random()
        if roll < 0.6:
            steps.append((clock, met_event, data))
            return
        if roll < 0.8:
            steps.append((clock, deviate, {"explanation": "Spoedprocedure"}))
            return
        steps.append((clock, deviate, rng.choice([{}, {"explanation": "  "}])))
        not_met.append(step)

    clock += timedelta(days=rng.randint(1, 30), minutes=rng.randint(0, 600))
    if rng.random() < 0.05:
        steps.append((clock, "cancel", {}))
    else:
        finish("text", "approve_text", "deviate_text", {})
        clock += timedelta(days=rng.randint(1, 30))
        finish("biws", "complete_biws", "deviate_biws", {"checklist": CHECKLIST})
        for _ in range(2):
            clock += timedelta(days=rng.randint(1, 30))
            if rng.random() < 0.1:
                steps.append((clock, "deviate_shortlist", rng.choice([{}, {"explanation": "X"}])))
                break
            invited = rng.randint(1, 9)
            diverse = rng.randint(0, invited)
            steps.append((clock, "submit_shortlist", {"invited": invited, "diverse": diverse}))
            if 2 * diverse >= invited:
                break
        clock += timedelta(days=rng.randint(1, 30))
        if rng.random() < 0.1:
            steps.append((clock, "cancel", {"reason": "Geen kandidaat"}))
        else:
            start = (clock + timedelta(days=14)).date()
            steps.append((clock, "hire", {"employee": f"P{number:06d}", "start_date": str(start)}))
            clock += timedelta(days=rng.randint(20, 60))
            finish("onboarding", "complete_onboarding", "deviate_onboarding", {})
            if rng.random() < 0.4:
                clock += timedelta(days=rng.randint(1, 40))
                leave = {"leave_date": str(clock.date()), "destination": "private_sector"}
                steps.append((clock, "register_departure", leave))
                clock += timedelta(days=rng.randint(1, 10))
                finish(
                    "exit_interview",
                    "record_exit_interview",
                    "deviate_exit_interview",
                    {"held": True, "reasons": ["loopbaan", "werkdruk"]},
                )
    for step in not_met:
        if rng.random() < 0.5:
            clock += timedelta(days=rng.randint(5, 90))
            steps.append((clock, "explain", {"step": step, "explanation": "Achteraf"}))
    return [s for s in steps if s[0] <= WINDOW_END]


def _edge_cases(events: EventFile) -> None:
    """The cases DOMAIN.md singles out, by hand."""
    e = events.event
    org = {"scale": 12, "title": "Teamleider", "kind": "internal"}
    # Amsterdam midnight: 1 April 00:30 local is still 31 March in UTC -> Q2.
    e("E-APR", "open", "2025-03-20T10:00:00+01:00", org | {"directorate": "SOC-OJZ"})
    e("E-APR", "approve_text", "2025-03-31T22:30:00Z")
    e("E-APR", "complete_biws", "2025-04-01T00:30:00", {"checklist": CHECKLIST})
    # ... and the last minute of Q1 in local time.
    e("E-MAR", "open", "2025-03-20T10:00:00+01:00", org | {"directorate": "SOC-OJZ"})
    e("E-MAR", "approve_text", "2025-03-31T23:59:00+02:00")
    # New year: not_met in 2024Q4 (23:30 local), explained late in 2025Q2: counts in 2024Q4.
    e("E-NY", "open", "2024-12-01T09:00:00+01:00", org | {"directorate": "BO-GRF"})
    e("E-NY", "deviate_text", "2024-12-31T23:30:00+01:00", {"explanation": " "})
    e("E-NY", "deviate_biws", "2024-12-31T23:00:00Z")  # 1 January 00:00 local -> 2025Q1
    # Rooney: exactly half met in round 1 (with a distinctive diverse count).
    e("E-R50", "open", "2025-01-06T09:00:00", org | {"directorate": "DII-IV"})
    e("E-R50", "approve_text", "2025-01-07T09:00:00")
    e("E-R50", "complete_biws", "2025-01-08T09:00:00", {"checklist": CHECKLIST})
    e(
        "E-R50",
        "submit_shortlist",
        "2025-01-09T09:00:00",
        {"invited": 2 * SECRET_MET, "diverse": SECRET_MET},
    )
    # Rooney: a failed round, then met in round 2.
    e("E-R2", "open", "2025-04-06T09:00:00", org | {"directorate": "DII-IV"})
    e("E-R2", "approve_text", "2025-04-07T09:00:00")
    e("E-R2", "deviate_biws", "2025-04-08T09:00:00", {"explanation": "Geen commissie"})
    e(
        "E-R2",
        "submit_shortlist",
        "2025-04-09T09:00:00",
        {"invited": 3 * SECRET_LOW, "diverse": SECRET_LOW},
    )
    e("E-R2", "submit_shortlist", "2025-06-09T09:00:00", {"invited": 5, "diverse": 3})
    # Rooney: released after two failed rounds, across a quarter boundary.
    e("E-REL", "open", "2025-05-06T09:00:00", org | {"directorate": "SD-WSP"})
    e("E-REL", "approve_text", "2025-05-07T09:00:00")
    e("E-REL", "complete_biws", "2025-05-08T09:00:00", {"checklist": CHECKLIST})
    e("E-REL", "submit_shortlist", "2025-06-09T09:00:00", {"invited": 4, "diverse": 1})
    e("E-REL", "submit_shortlist", "2025-07-01T00:10:00", {"invited": 6, "diverse": 0})
    # Cancelled in selection: outcomes so far count, nothing after.
    e("E-CAN", "open", "2025-02-06T09:00:00", org | {"directorate": "RE-WON"})
    e("E-CAN", "deviate_text", "2025-02-07T09:00:00")
    e("E-CAN", "deviate_biws", "2025-02-08T09:00:00", {"explanation": "Krappe markt"})
    e("E-CAN", "deviate_shortlist", "2025-02-09T09:00:00")
    e("E-CAN", "cancel", "2025-02-10T09:00:00", {"reason": "Ingetrokken"})
    # A late explain in a final state (cancelled) counts in the original quarter (Q1).
    e("E-CAN", "explain", "2025-08-10T09:00:00", {"step": "rooney", "explanation": "Alsnog"})
    # A whole procedure to the exit interview (summer time, DST day 30 March).
    e("E-ALL", "open", "2025-03-30T01:30:00", org | {"directorate": "BV-FIN"})
    e("E-ALL", "approve_text", "2025-03-30T03:30:00")
    e("E-ALL", "complete_biws", "2025-04-02T09:00:00", {"checklist": CHECKLIST})
    e("E-ALL", "deviate_shortlist", "2025-04-03T09:00:00", {"explanation": "Herplaatsing"})
    e("E-ALL", "hire", "2025-04-04T09:00:00", {"employee": "P900001", "start_date": "2025-05-01"})
    e("E-ALL", "deviate_onboarding", "2025-06-30T23:59:00")
    e("E-ALL", "register_departure", "2025-08-01T09:00:00", {"leave_date": "2025-08-31"})
    e("E-ALL", "record_exit_interview", "2025-09-01T09:00:00", {"held": False})
    e("E-ALL", "explain", "2025-09-20T09:00:00", {"step": "onboarding", "explanation": "Ziek"})


def _bad_and_duplicate_lines(events: EventFile) -> None:
    """Lines DOMAIN.md says must be refused, and repeats that must be duplicates."""
    good = [line for kind, line in events.lines if kind == "good"]
    org = {"scale": 12, "title": "Teamleider", "kind": "internal"}
    e = events.event
    events.lines.append(("duplicate", dict(good[5])))
    events.lines.append(("duplicate", dict(good[-1])))
    events.raw('{"id": "acc-broken", "vacancy": "E-APR", "event": ')
    e("E-APR", "publish_vacancy", "2025-04-02T09:00:00", kind="bad")
    e("E-APR", "deviate_shortlist", "2025-04-02T09:00:00", {"why": "x"}, kind="bad")
    e("E-APR", "submit_shortlist", "2025-04-02T09:00:00", {"invited": 3, "diverse": 4}, kind="bad")
    e("E-APR", "submit_shortlist", "2025-04-02T09:00:00", {"invited": 0, "diverse": 0}, kind="bad")
    e(
        "E-APR",
        "submit_shortlist",
        "2025-04-02T09:00:00",
        {"invited": "4", "diverse": 2},
        kind="bad",
    )
    e("E-APR", "deviate_shortlist", "2025-03-01T09:00:00", kind="bad")  # before its last event
    e("E-ALL", "cancel", "2025-09-25T09:00:00", kind="bad")  # not allowed when closed
    e(
        "E-NEW",
        "open",
        "2025-02-01T09:00:00",
        org | {"directorate": "SOC-OJZ", "scale": 11},
        kind="bad",
    )
    e("E-NEW", "open", "2025-02-01T09:00:00", org | {"directorate": "XX-GEEN"}, kind="bad")
    e("E-MAR", "explain", "2025-09-01T09:00:00", {"step": "text", "explanation": "x"}, kind="bad")
    e("E-NY", "explain", "2025-05-01T09:00:00", {"step": "text", "explanation": "  "}, kind="bad")
    # A reused id with other content, then the late explanation the file really meant.
    reused = dict(good[0])
    e(
        "E-NY",
        "explain",
        "2025-05-01T09:00:00",
        {"step": "text", "explanation": "Feestdagen"},
        id=reused["id"],
        kind="bad",
    )
    e("E-NY", "explain", "2025-05-01T09:00:00", {"step": "text", "explanation": "Feestdagen"})


def _quarter(at: str) -> str:
    moment = datetime.fromisoformat(at.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=AMS)
    local = moment.astimezone(AMS)
    return f"{local.year}Q{(local.month - 1) // 3 + 1}"


def expected_tallies(lines: list[tuple[str, Any]]) -> dict[str, set[tuple[Any, ...]]]:
    """DOMAIN.md's tallies, from the good lines only: quarter -> rows."""
    directorate: dict[str, str] = {}
    rounds: Counter[str] = Counter()
    finished: dict[tuple[str, str], list[str]] = {}  # (vacancy, step) -> [quarter, outcome]
    finishing = {
        "approve_text": "text",
        "deviate_text": "text",
        "complete_biws": "biws",
        "deviate_biws": "biws",
        "deviate_shortlist": "rooney",
        "complete_onboarding": "onboarding",
        "deviate_onboarding": "onboarding",
        "record_exit_interview": "exit_interview",
        "deviate_exit_interview": "exit_interview",
    }
    for kind, line in lines:
        if kind != "good":
            continue
        vacancy, event, data = line["vacancy"], line["event"], line["data"]
        if event == "open":
            directorate[vacancy] = data["directorate"]
            rounds[vacancy] = 1
        elif event == "explain":
            finished[(vacancy, data["step"])][1] = "explained"
        elif event == "submit_shortlist":
            if 2 * data["diverse"] >= data["invited"]:
                finished[(vacancy, "rooney")] = [_quarter(line["at"]), "met"]
            elif rounds[vacancy] < 2:
                rounds[vacancy] += 1
            else:
                finished[(vacancy, "rooney")] = [_quarter(line["at"]), "released"]
        elif event in finishing:
            if event.startswith("deviate_"):
                explained = (data.get("explanation") or "").strip()
                outcome = "explained" if explained else "not_met"
            else:
                outcome = "met"
            finished[(vacancy, finishing[event])] = [_quarter(line["at"]), outcome]
    counts: Counter[tuple[str, str, str, str]] = Counter()
    for (vacancy, step), (quarter, outcome) in finished.items():
        counts[(quarter, directorate[vacancy], INDICATOR[step], outcome)] += 1
    cells: dict[tuple[str, str, str], Counter[str]] = {}
    for (quarter, code, indicator, outcome), n in counts.items():
        cells.setdefault((quarter, code, indicator), Counter())[outcome] += n
    rows: dict[str, set[tuple[Any, ...]]] = {}
    for (quarter, code, indicator), cell in cells.items():
        outcomes = [cell[o] for o in ("met", "explained", "released", "not_met")]
        row = (CLUSTER[code], code, indicator, *outcomes, sum(outcomes))
        rows.setdefault(quarter, set()).add(row)
    return rows


def _row(row: dict[str, Any]) -> tuple[Any, ...]:
    keys = ("cluster", "directorate", "indicator", "met", "explained", "released", "not_met")
    return (*(row[k] for k in keys), row["total"])


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_an_event_file_from_domain_md_reads_back_as_exactly_the_expected_tallies(
    engine: Any, db_url: str, tmp_path: Path
) -> None:
    events = EventFile()
    _edge_cases(events)
    _random_procedures(events, random.Random(20250401))
    _bad_and_duplicate_lines(events)
    path = tmp_path / "events.jsonl"
    path.write_text(events.text(), encoding="utf-8")
    env = os.environ | {
        "IDFLOW_DATABASE_URL": db_url,
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }

    imported = subprocess.run(
        [IDFLOW, "import", str(path)], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    kinds = Counter(kind for kind, _ in events.lines)
    assert imported.returncode != 0
    summary = f"Import: {kinds['good']} verwerkt, {kinds['duplicate']} dubbel, {kinds['bad']} "
    assert summary + "geweigerd." in imported.stderr, imported.stderr
    bad_numbers = [n for n, (kind, _) in enumerate(events.lines, 1) if kind == "bad"]
    for number in bad_numbers:
        assert f"regel {number}:" in imported.stderr

    expected = expected_tallies(events.lines)
    assert set(expected) == {"2024Q4", "2025Q1", "2025Q2", "2025Q3"}
    for quarter in [*sorted(expected), "2025Q4"]:
        report = subprocess.run(
            [IDFLOW, "report", "--quarter", quarter, "--format", "json", "--no-suppress"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
        )
        assert report.returncode == 0, report.stderr
        body = json.loads(report.stdout)
        assert (body["quarter"], body["suppressed"]) == (quarter, False)
        counted = [row for row in body["rows"] if row["total"]]  # every directorate is listed
        assert sorted(map(_row, counted)) == sorted(expected.get(quarter, set())), quarter

    database = Path(db_url.removeprefix("sqlite:///"))
    stored = b"".join(
        p.read_bytes() for p in database.parent.glob(database.name + "*") if p.is_file()
    )
    for secret in (SECRET_MET, SECRET_LOW):
        assert str(secret).encode() not in stored
    assert b'"diverse"' not in stored and b"'diverse'" not in stored
    assert str(2 * SECRET_MET).encode() in stored  # `invited` is kept, so the search works


def test_the_expected_tallies_follow_domain_md_on_a_small_example() -> None:
    events = EventFile()
    events.event("V", "open", "2025-03-01T09:00:00", {"directorate": "SD-CEN"})
    events.event("V", "deviate_text", "2025-03-31T23:30:00", {"explanation": " "})
    events.event("V", "submit_shortlist", "2025-04-01T09:00:00", {"invited": 3, "diverse": 1})
    events.event("V", "submit_shortlist", "2025-04-02T09:00:00", {"invited": 3, "diverse": 1})
    events.event("V", "explain", "2025-08-01T09:00:00", {"step": "text", "explanation": "Ja"})
    assert expected_tallies(events.lines) == {
        "2025Q1": {("SBD", "SD-CEN", "I2", 0, 1, 0, 0, 1)},
        "2025Q2": {("SBD", "SD-CEN", "I4", 0, 0, 1, 0, 1)},
    }
