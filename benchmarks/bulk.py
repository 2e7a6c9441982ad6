"""Bulk import: the whole ``idflow import`` command (start-up included) against a plain
batched insert of the same rows."""

import os
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import text

from benchmarks.interactive import insert_sql, read_log
from models.database import get_engine

BATCH = 10_000
_PROCEDURES = (
    "INSERT INTO procedure (vacancy, directorate, scale, title, kind, state, round, "
    "policy_version, opened_at, state_since, last_event_at, seq, head_hash, version) VALUES "
    "(:vacancy, :directorate, 12, 'x', 'external', :target, :round, 1, :at, :at, :at, :seq, "
    ":hash, 1)"
)


def idflow_import(url: str, path: Path, events: int) -> tuple[float, str]:
    """Events per second of ``idflow import PATH`` as a separate process, and its summary."""
    env = os.environ | {"IDFLOW_DATABASE_URL": url}
    command = [str(Path(sys.executable).with_name("idflow")), "import", str(path)]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    summary = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ""
    if done.returncode not in (0, 1):
        raise RuntimeError(f"idflow import failed: {done.stderr[-2000:]}")
    return events / elapsed, summary


def batched_insert(source_url: str, target_url: str) -> float:
    """Rows per second inserting the same transitions (and their procedures) in batches."""
    rows = read_log(source_url)
    last = {row["vacancy"]: row for row in rows}
    engine = get_engine(target_url)
    insert = text(insert_sql(engine.dialect.name))
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text(_PROCEDURES), list(last.values()))
    for start in range(0, len(rows), BATCH):
        with engine.begin() as conn:
            conn.execute(insert, rows[start : start + BATCH])
    return len(rows) / (time.perf_counter() - started)
