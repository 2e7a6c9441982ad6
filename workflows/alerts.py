"""Alert flows: dispatch the outbox (when an alert is raised, and every 5 minutes as a
backstop) and the overdue scan (daily).

The tasks are thin: the rules are in ``procedures.alerts``, delivery in
``notifications.dispatch``. Task retries cover a database that is briefly unavailable; a
channel that is down is not an error here: its deliveries wait with their own backoff. A run
that gave up on a delivery, or sent an alert to the fallback because no recipient is routed
for it, ends Failed, so nobody has to read an artifact to notice.
"""

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.states import Completed, Failed, State

from models import get_engine, get_settings, session_scope
from notifications.dispatch import DispatchResult, Limits, dispatch
from notifications.routing import Routing, load_checked
from procedures.alerts import below_norm_causes, parse_as_of, scan_overdue
from procedures.calendar import last_finished_quarter
from workflows.rollup import roll_up_task


def load_routing_file(routing_file: str | None = None) -> Routing:
    """The routing file (default: ``IDFLOW_ROUTING_FILE``), checked against the organisation."""
    path = Path(routing_file) if routing_file else get_settings().routing_file
    with session_scope(get_engine()) as session:
        return load_checked(session, path)


@task(name="dispatch-alerts", retries=2, retry_delay_seconds=[2, 10])
def dispatch_task(routing_file: str | None, as_of: str | None) -> DispatchResult:
    """Plan, send and record deliveries (safe to repeat: claims and records are committed)."""
    routing = load_routing_file(routing_file)
    return dispatch(get_engine(), routing, parse_as_of(as_of), Limits.from_settings())


@task(name="scan-overdue", retries=2, retry_delay_seconds=[2, 10])
def scan_overdue_task(as_of: str | None) -> int:
    """Raise the overdue alerts of ``as_of`` (each stay once)."""
    with session_scope(get_engine()) as session:
        return len(scan_overdue(session, parse_as_of(as_of)))


@task(name="below-norm", retries=2, retry_delay_seconds=[2, 10])
def below_norm_task(quarter: str) -> int:
    """Raise one alert per directorate below norm in ``quarter`` (each once)."""
    with session_scope(get_engine()) as session:
        return len(below_norm_causes(session, quarter))


@flow(name="idflow-alerts-dispatch")
def dispatch_flow(as_of: str | None = None, routing_file: str | None = None) -> State[Any]:
    """Deliver the outbox: immediate alerts now, informational ones in a daily digest."""
    result = dispatch_task(routing_file, as_of)
    logger = get_run_logger()
    summary = summarise(result)
    logger.info("Meldingen: %s", summary)
    for failed in result.failed:
        logger.warning(
            "Mislukt na %s pogingen: %s aan %s: %s",
            failed.attempts,
            failed.cause,
            failed.recipient,
            failed.error,
        )
    for cause in result.unrouted:
        logger.warning("Geen ontvanger voor %s: naar de vangnetontvanger gestuurd", cause)
    if result.failed:
        rows = [vars(failed) for failed in result.failed]
        create_table_artifact(key="alerts-failed", table=rows, description="Mislukte meldingen")
    if result.failed or result.unrouted:
        return Failed(message=problems(summary), data=summary)
    return Completed(data=summary)


@flow(name="idflow-alerts-overdue-scan")
def overdue_scan_flow(as_of: str | None = None) -> dict[str, Any]:
    """Raise overdue alerts as of ``as_of`` and the below-norm alerts of the quarter before it."""
    moment = parse_as_of(as_of)
    roll_up_task()
    overdue = scan_overdue_task(moment.isoformat())
    quarter = last_finished_quarter(moment)
    below = below_norm_task(quarter)
    get_run_logger().info("Over de termijn: %s; onder de norm in %s: %s", overdue, quarter, below)
    return {
        "as_of": moment.isoformat(),
        "overdue": overdue,
        "quarter": quarter,
        "below_norm": below,
    }


def summarise(result: DispatchResult) -> dict[str, Any]:
    """The run in numbers: what it did, and the queue as it stands after it."""
    return {
        "planned": result.planned,
        "historical": result.historical,
        "unrouted": list(result.unrouted),
        "messages": result.messages,
        "delivered": result.delivered,
        "digests": result.digests,
        "failed": [vars(failed) for failed in result.failed],
        "waiting": result.waiting,
        "waiting_for_digest": result.waiting_for_digest,
        "failed_total": result.failed_total,
    }


def problems(summary: dict[str, Any]) -> str:
    """Why a run ends Failed, in Dutch."""
    parts = []
    if summary["failed"]:
        parts.append(f"{len(summary['failed'])} verzendingen mislukt")
    if summary["unrouted"]:
        parts.append(
            f"{len(summary['unrouted'])} meldingen zonder ontvanger (naar de vangnetontvanger)"
        )
    return "; ".join(parts)
