"""Roll-up: a full rebuild and an incremental run of new transitions, at several history sizes,
against the plain aggregate query over the same rows; peak memory of each run."""

import json
import subprocess
import sys
import time

from sqlalchemy import text

from benchmarks.limits import connect
from models.database import get_engine

VACANCIES = 1000
_ROWS = """
SELECT 'BENCH-' || (i % 1000), i / 1000 + 1, 'b-' || i, 'x',
       CASE WHEN i % 50 = 0 THEN 'explain' ELSE 'approve_text' END, 'text', 'biws',
       CASE WHEN i % 50 = 0 THEN 'explained' WHEN i % 10 < 7 THEN 'met'
            WHEN i % 10 < 9 THEN 'explained' ELSE 'not_met' END,
       'I' || (2 + i % 5), (2019 + i % 8) || 'Q' || (1 + (i / 7) % 4), 1, 'D' || (i % 47), 1,
       'bench', 'bench', {ts}, {ts}, {data}, 'x', 'x'
"""
_COLUMNS = (
    "vacancy, seq, event_id, digest, event, source, target, outcome, indicator, quarter, round, "
    "directorate, policy_version, actor, origin, at, recorded_at, data, prev_hash, hash"
)
_AGGREGATE = (
    "SELECT quarter, directorate, indicator, outcome, COUNT(*) FROM transition "
    "WHERE id > ? AND outcome IS NOT NULL GROUP BY quarter, directorate, indicator, outcome"
)


def add_transitions(url: str, low: int, high: int, chunk: int = 1_000_000) -> None:
    """Append synthetic finished transitions numbered ``low+1 .. high`` (generated in SQL)."""
    engine = get_engine(url)
    postgres = engine.dialect.name == "postgresql"
    if low == 0:
        _add_procedures(url)
    ts = "TIMESTAMP '2025-01-01 00:00:00'" if postgres else "'2025-01-01 00:00:00.000000'"
    rows = _ROWS.format(ts=ts, data="'{}'::json" if postgres else "'{}'")
    for start in range(low + 1, high + 1, chunk):
        end = min(start + chunk - 1, high)
        if postgres:
            series = f"generate_series({start}, {end}) AS g(i)"
            sql = f"INSERT INTO transition ({_COLUMNS}) {rows} FROM {series}"
        else:
            sql = (
                f"INSERT INTO transition ({_COLUMNS}) WITH RECURSIVE g(i) AS (SELECT {start} "
                f"UNION ALL SELECT i + 1 FROM g WHERE i < {end}) {rows} FROM g"
            )
        with engine.begin() as conn:
            conn.execute(text(sql))


def _add_procedures(url: str) -> None:
    rows = [{"vacancy": f"BENCH-{n}"} for n in range(VACANCIES)]
    sql = text(
        "INSERT INTO procedure (vacancy, directorate, scale, title, kind, state, round, "
        "policy_version, opened_at, state_since, last_event_at, seq, head_hash, version) "
        "VALUES (:vacancy, 'SOC-OJZ', 12, 'x', 'external', 'biws', 1, 1, "
        "'2025-01-01 00:00:00', '2025-01-01 00:00:00', '2025-01-01 00:00:00', 0, 'x', 1)"
    )
    with get_engine(url).begin() as conn:
        conn.execute(sql, rows)


def roll_up_in_child(url: str, rebuild: bool) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of one roll-up in a fresh process."""
    code = (
        "import json, time, sys\n"
        "from models import get_engine, session_scope\n"
        "from procedures.tallies import roll_up\n"
        f"engine = get_engine({url!r}); t = time.perf_counter()\n"
        f"with session_scope(engine) as s: roll_up(s, rebuild={rebuild})\n"
        "seconds = time.perf_counter() - t\n"
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]\n"
        "print(json.dumps({'seconds': seconds, 'peak_mb': int(hwm) / 1024}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["seconds"], result["peak_mb"]


def plain_aggregate(url: str, low: int) -> float:
    """Seconds for the bare GROUP BY over the same rows, run by the driver itself."""
    with connect(url) as (connection, sql, _):
        started = time.perf_counter()
        connection.execute(sql(_AGGREGATE), (low,)).fetchall()
        return time.perf_counter() - started


def max_id(url: str) -> int:
    with get_engine(url).connect() as conn:
        return int(conn.execute(text("SELECT COALESCE(MAX(id), 0) FROM transition")).scalar_one())
