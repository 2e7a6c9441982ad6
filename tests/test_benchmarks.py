"""The benchmark command runs and prints every figure beside a measured limit."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_benchmark_command_measures_each_figure_beside_its_limit(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    command = [
        sys.executable,
        "-m",
        "benchmarks",
        "--databases",
        "sqlite",
        "--interactive",
        "40",
        "--bulk",
        "300",
        "--memory",
        "300",
        "--rollup-sizes",
        "2000",
        "--incremental",
        "200",
        "--web",
        "150",
        "--clients",
        "4",
        "--json",
        str(out),
    ]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "gemeten naast de limiet" in done.stdout
    rows = json.loads(out.read_text())
    measures = [row["measure"] for row in rows]
    # The engine beside the driver, beside itself deciding with send(), and the naive peer.
    interactive = [m for m in measures if m.startswith("interactief")]
    assert len(interactive) == 3 and any("sqlite3" in m for m in interactive), interactive
    assert any("send()" in m for m in interactive) and any("SQLModel" in m for m in interactive)
    assert any(m.startswith("bulk import") and "executemany" in m for m in measures)
    assert sum(m.startswith("roll-up") for m in measures) == 2
    memory = [row for row in rows if row["unit"] == "MB"]
    assert len(memory) == 2 and all(row["figure"] > 0 for row in memory), memory
    timed = [r for r in rows if r["unit"] != "MB" and not r["measure"].startswith("web: kwijt")]
    assert sum(m.startswith("web, 4 clients") for m in measures) == 3  # p50, p99, throughput
    for row in timed:
        assert row["figure"] > 0 and row["limit"] > 0, row
    # After the concurrent clients, every accepted event is in the log exactly once.
    [check] = [row for row in rows if row["measure"].startswith("web: kwijt of dubbel")]
    assert check["figure"] == 0 and check["met"] is True, check
