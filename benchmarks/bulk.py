"""Bulk import: the whole ``idflow import`` command as its own process, start-up included,
with its peak memory."""

import os
import subprocess
import sys
import time
from pathlib import Path


def idflow_import(url: str, path: Path, events: int) -> tuple[float, float]:
    """(events per second, peak RSS in MB) of ``idflow import PATH`` in a fresh process."""
    env = os.environ | {"IDFLOW_DATABASE_URL": url}
    command = [str(Path(sys.executable).with_name("idflow")), "import", str(path)]
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert process.stderr is not None
    errors = process.stderr.read()  # drained before waiting: a full pipe would stall it
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode not in (0, 1):
        raise RuntimeError(f"idflow import failed: {errors[-2000:].decode(errors='replace')}")
    return events / elapsed, usage.ru_maxrss / 1024  # Linux: kilobytes
