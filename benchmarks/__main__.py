"""``python -m benchmarks``: print each figure beside its limit, for SQLite and PostgreSQL."""

import argparse
import gc
import json
import platform
import tempfile
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from benchmarks import bulk, interactive, limits, peer, rollup, web, workload
from benchmarks.databases import fresh_database, postgres_available
from models import get_settings

DRIVERS = {"sqlite": "sqlite3", "postgresql": "psycopg"}


@dataclass
class Row:
    database: str
    measure: str
    figure: float
    unit: str
    limit: float | None
    target: str
    met: bool | None


def main() -> None:
    args = _arguments()
    console = Console(width=170)
    kinds = [k for k in args.databases.split(",") if k]
    if "postgresql" in kinds and not postgres_available():
        console.print("PostgreSQL niet bereikbaar op 127.0.0.1:5432: alleen SQLite.")
        kinds.remove("postgresql")
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="idflow-bench-") as tmp:
        workdir = Path(tmp)
        for kind in kinds:
            if args.interactive:  # 0 leaves a measurement out
                rows += _interactive(kind, workdir, args.interactive)
            if args.bulk:
                rows += _bulk(kind, workdir, args.bulk)
            if args.memory:
                rows += _memory(kind, workdir, args.memory)
            for size in (int(s) for s in args.rollup_sizes.split(",") if s):
                rows += _rollup(kind, workdir, size, args.incremental)
            if args.web:
                rows += _web(kind, workdir, args.web, args.clients)
    console.print(_table(rows))
    console.print(
        f"Machine: {platform.processor() or platform.machine()}, "
        f"{platform.python_implementation()} {platform.python_version()}"
    )
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(r) for r in rows], indent=2))


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--interactive", type=int, default=2000, help="events, one txn each")
    parser.add_argument("--bulk", type=int, default=100_000, help="events in the import file")
    parser.add_argument("--memory", type=int, default=1_000_000, help="events, peak RSS")
    parser.add_argument("--rollup-sizes", default="100000,1000000,10000000")
    parser.add_argument("--incremental", type=int, default=10_000)
    parser.add_argument("--web", type=int, default=5_000, help="events sent through the API")
    parser.add_argument("--clients", type=int, default=32, help="concurrent web clients")
    parser.add_argument("--json", help="also write the rows as JSON to this file")
    return parser.parse_args()


def _interactive(kind: str, workdir: Path, count: int) -> list[Row]:
    """The engine, the driver's limit, the engine deciding with ``send`` and the peer, each
    on its own database, taking turns by tenths of the events (so that the machine's
    changing speed falls on all four alike)."""
    events = workload.events(count)
    plans = limits.planned(events)
    assert len(plans) == len(events), "the workload's events are all accepted"
    with fresh_database(kind, workdir) as scratch:  # imports, caches, pools: all warm
        interactive.through_engine(scratch, events[: max(1, len(events) // 10)])
    seconds: dict[str, float] = dict.fromkeys(("engine", "limit", "send", "peer"), 0.0)
    with ExitStack() as stack:
        urls = {name: stack.enter_context(fresh_database(kind, workdir)) for name in seconds}
        driver = stack.enter_context(limits.connect(urls["limit"]))  # open, as a pool keeps it
        step = max(1, len(events) // 10)
        for start in range(0, len(events), step):
            part = slice(start, start + step)
            gc.collect()  # each turn starts without the garbage of the one before (the peer's)
            seconds["engine"] += interactive.through_engine(urls["engine"], events[part])
            gc.collect()
            seconds["limit"] += limits.interactive(driver, plans[part])
            gc.collect()
            with interactive.deciding_with_send():
                seconds["send"] += interactive.through_engine(urls["send"], events[part])
            gc.collect()
            seconds["peer"] += peer.run(urls["peer"], events[part])
    rate, limit, machine, naive = (len(events) / seconds[name] for name in seconds)
    name = DRIVERS[kind]
    engine = f"interactief: de engine, 1 transactie per event (limiet: {name})"
    swapped = "interactief: de engine met python-statemachine send() (limiet: met decide())"
    naive_build = f"interactief: naïef python-statemachine + SQLModel (limiet: {name})"
    met = rate >= 0.5 * limit
    return [
        Row(kind, engine, rate, "events/s", limit, ">= 50% van de limiet", met),
        Row(kind, swapped, machine, "events/s", rate, "-", None),
        Row(kind, naive_build, naive, "events/s", limit, "-", None),
    ]


def _bulk(kind: str, workdir: Path, count: int) -> list[Row]:
    events = workload.events(count)
    path = workload.write_jsonl(events, workdir / f"bulk-{count}.jsonl")
    batch = get_settings().import_batch_size
    plans = limits.planned(events)
    with fresh_database(kind, workdir) as import_db, fresh_database(kind, workdir) as plain_db:
        rate, peak = bulk.idflow_import(import_db, path, len(events))
        with limits.connect(plain_db) as driver:
            limit = len(plans) / limits.bulk(driver, plans, batch)
    path.unlink()
    floor = 25_000 if kind == "sqlite" else 0
    target = ">= 20% van de limiet" + (" en >= 25.000/s" if floor else "")
    measure = f"bulk import {len(events):,} events, hele commando, piek {peak:.0f} MB"
    limit_is = f"{DRIVERS[kind]} executemany, batches van {batch}"
    met = rate >= max(floor, 0.2 * limit)
    return [Row(kind, f"{measure} (limiet: {limit_is})", rate, "events/s", limit, target, met)]


def _memory(kind: str, workdir: Path, count: int) -> list[Row]:
    """Peak RSS of ``idflow import`` for a file of ``count`` events and one a tenth of it."""
    rows = []
    for size in (count // 10, count):
        path = workload.write_jsonl(workload.stream(size), workdir / f"memory-{size}.jsonl")
        with fresh_database(kind, workdir) as url:
            rate, peak = bulk.idflow_import(url, path, size)
        path.unlink()
        label = f"geheugen: idflow import van {size:,} events ({rate:,.0f} events/s), piek RSS"
        rows.append(Row(kind, label, peak, "MB", None, "< 200 MB", peak < 200))
    return rows


def _rollup(kind: str, workdir: Path, size: int, incremental: int) -> list[Row]:
    with fresh_database(kind, workdir) as url:
        rollup.add_transitions(url, 0, size)
        full, full_mb = rollup.roll_up_in_child(url, rebuild=True)
        full_limit = rollup.plain_aggregate(url, 0)
        top = rollup.max_id(url)
        rollup.add_transitions(url, top, top + incremental)
        step, step_mb = rollup.roll_up_in_child(url, rebuild=False)
        step_limit = rollup.plain_aggregate(url, top)
    full_target = "< 20 s bij 10M (SQLite)" if kind == "sqlite" and size >= 10_000_000 else "-"
    full_met = full < 20 if full_target != "-" else None
    return [
        Row(
            kind,
            f"roll-up volledig, {size:,} transities (piek {full_mb:.0f} MB)",
            full,
            "s",
            full_limit,
            full_target,
            full_met,
        ),
        Row(
            kind,
            f"roll-up +{incremental:,} op {size:,} (piek {step_mb:.0f} MB)",
            step,
            "s",
            step_limit,
            "< 1 s",
            step < 1,
        ),
    ]


def _web(kind: str, workdir: Path, count: int, clients: int) -> list[Row]:
    events = workload.events(count)
    with fresh_database(kind, workdir) as url:
        advancing, floor = web.run(url, events, clients)
        log = web.check_log(url, advancing.created)
    label = f"web, {clients} clients, {len(events):,} events via de API"
    return [
        Row(kind, f"{label}: p50", advancing.p50_ms, "ms", floor.p50_ms, "-", None),
        Row(
            kind,
            f"{label}: p99",
            advancing.p99_ms,
            "ms",
            floor.p99_ms,
            "< 50 ms",
            advancing.p99_ms < 50,
        ),
        Row(kind, f"{label}: doorvoer", advancing.rate, "events/s", floor.rate, "-", None),
        Row(
            kind,
            f"web: kwijt of dubbel (201: {log.sent:,}, log: {log.stored:,}, "
            f"unieke ids: {log.distinct:,}, ketenbreuken: {log.chain_breaks}, "
            f"fouten: {advancing.failed})",
            abs(log.sent - log.stored) + (log.stored - log.distinct) + log.chain_breaks,
            "stuks",
            None,
            "0",
            log.intact and advancing.failed == 0,
        ),
    ]


def _table(rows: list[Row]) -> Table:
    table = Table(title="idflow benchmarks: gemeten naast de limiet (zelfde run, zelfde database)")
    for name in ("database", "meting", "gemeten", "limiet", "verhouding", "doel", "gehaald"):
        table.add_column(name, justify="right" if name in ("gemeten", "limiet") else "left")
    for r in rows:
        ratio = "-"
        if r.limit:  # rates: share of the limit reached; durations: times the limit
            duration = r.unit in ("s", "ms")
            ratio = f"{r.figure / r.limit:.1f}x" if duration else f"{r.figure / r.limit:.0%}"
        limit = f"{r.limit:,.2f} {r.unit}" if r.limit is not None else "-"
        met = {True: "ja", False: "NEE", None: "-"}[r.met]
        table.add_row(
            r.database, r.measure, f"{r.figure:,.2f} {r.unit}", limit, ratio, r.target, met
        )
    return table


if __name__ == "__main__":
    main()
