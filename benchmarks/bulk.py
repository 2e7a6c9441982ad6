"""Bulk import: the whole ``idflow import`` command as its own process, start-up included,
with its peak memory."""

import os
import subprocess
import sys
import time
from pathlib import Path

# ``idflow import`` as the console script runs it, reporting its own peak RSS on the way out
# (a child's rusage would also count the parent's pages it shared until it exec'ed).
_IDFLOW = (
    "import sys\n"
    "from idflow.cli import main\n"
    "try:\n"
    "    main()\n"
    "finally:\n"
    "    peak = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]\n"
    "    print(f'peak-kb {peak}', file=sys.stderr)\n"
)


def idflow_import(url: str, path: Path, events: int) -> tuple[float, float]:
    """(events per second, peak RSS in MB) of ``idflow import PATH`` in a fresh process."""
    env = os.environ | {"IDFLOW_DATABASE_URL": url}
    command = [sys.executable, "-c", _IDFLOW, "import", str(path)]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise RuntimeError(f"idflow import failed: {done.stderr[-2000:]}")
    peak = next(line for line in done.stderr.splitlines() if line.startswith("peak-kb "))
    return events / elapsed, int(peak.split()[1]) / 1024
