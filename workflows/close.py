"""The close flow: after the policy's ``close_after_days``, fix the quarter just ended and
publish its definitive report (the rule is ``procedures.quarters.scheduled_close``)."""

from typing import Any

from prefect import flow, get_run_logger, task

from models import get_engine, session_scope
from procedures.alerts import parse_as_of
from procedures.calendar import last_finished_quarter
from procedures.quarters import scheduled_close
from procedures.report_builder import report_quarter
from workflows.report import build_report_task, publish_artifacts_task, write_report_task

ACTOR = "idflow-quarter-close"


@task(name="close-quarter", retries=2, retry_delay_seconds=[2, 10])
def close_task(quarter: str, as_of: str) -> dict[str, Any]:
    """Close ``quarter`` when due (safe to repeat: a closed quarter is left as it is)."""
    with session_scope(get_engine()) as session:
        done = scheduled_close(session, quarter, parse_as_of(as_of), ACTOR)
        snapshot = done.snapshot
        return {
            "quarter": quarter,
            "action": done.action,
            "due": done.due.isoformat(),
            "version": snapshot.version if snapshot else None,
            "sha256": snapshot.row.sha256 if snapshot else None,
        }


@flow(name="idflow-quarter-close")
def close_flow(as_of: str | None = None, quarter: str | None = None) -> dict[str, Any]:
    """Close the quarter before ``as_of`` (default now) once ``close_after_days`` have
    passed, and publish its definitive report: ``IDFLOW_REPORT_DIR/<quarter>.html`` and the
    artifacts. The close tells P&O through the outbox."""
    moment = parse_as_of(as_of)
    quarter = report_quarter(quarter or last_finished_quarter(moment))
    result = close_task(quarter, moment.isoformat())
    logger = get_run_logger()
    if result["version"] is None:
        logger.info("Kwartaal %s niet vastgesteld (%s; termijn: %s)", quarter, result["action"],
                    result["due"])  # fmt: skip
        return result
    book = build_report_task(quarter, True)
    result["report"] = write_report_task(book, "html", None)
    publish_artifacts_task(book)
    logger.info("Kwartaal %s vastgesteld (versie %s): %s", quarter, result["version"],
                result["report"])  # fmt: skip
    return result
