"""Pages for closed quarters: the list of quarters and snapshot versions, the confirmation
before a close (what will be frozen), and the close and reopen forms."""

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from models import get_engine
from procedures.access import Principal
from procedures.calendar import quarter_end
from procedures.errors import IdflowError
from procedures.quarters import close_preview, close_quarter, quarter_overview, reopen_quarter
from procedures.report import CLOSED, INDICATOR_LABELS, INDICATORS
from web.deps import Allow, unit
from web.pages import in_thread, redirect, render
from web.views import roll_up_now

router = APIRouter(include_in_schema=False)
FORMATS = ("html", "xlsx", "json", "csv")


@router.get("/kwartalen")
def quarters_page(request: Request, who: Principal = Depends(Allow("quarters"))) -> Response:
    return _quarters_page(request, who)


def _quarters_page(
    request: Request, who: Principal, error: str | None = None, status: int = 200
) -> Response:
    with unit(request) as session:
        overview = quarter_overview(session)
    now = datetime.now(UTC)
    for item in overview:
        item["ended"] = quarter_end(item["quarter"]) < now
    context = {"overview": overview, "formats": FORMATS, "closed": CLOSED, "error": error}
    return render(request, "quarters.html", context, who, status)


@router.get("/kwartalen/{quarter}/vaststellen")
def confirm_close(
    quarter: str, request: Request, who: Principal = Depends(Allow("close_quarter"))
) -> Response:
    """What closing the quarter now would freeze, with the button that does it."""
    roll_up_now(get_engine(request.app.state.database_url))
    with unit(request) as session:
        preview = close_preview(session, quarter)
    book = preview["book"]  # None for a quarter that has not ended or is closed
    totals = {
        indicator: [line for line in book.lines(indicator) if line.level != "directie"]
        for indicator in INDICATORS
        if book is not None
    }
    context: dict[str, Any] = {"preview": preview, "book": book, "totals": totals}
    context["labels"] = INDICATOR_LABELS
    return render(request, "close.html", context, who)


@router.post("/kwartalen/{quarter}/vaststellen")
async def close(
    quarter: str, request: Request, who: Principal = Depends(Allow("close_quarter"))
) -> Response:
    return await in_thread(request, lambda: _close(request, who, quarter))


def _close(request: Request, who: Principal, quarter: str) -> Response:
    try:
        with unit(request) as session:
            done = close_quarter(session, quarter, who.username)
            row = done.snapshot.row
    except IdflowError as error:
        return _quarters_page(request, who, str(error), error.http_status)
    if not done.created:
        message = f"Kwartaal {row.quarter} was al vastgesteld (versie {row.version})."
    else:
        message = f"Kwartaal {row.quarter} is vastgesteld (versie {row.version})."
    return redirect("/kwartalen", message, request)


@router.post("/kwartalen/{quarter}/heropenen")
async def reopen(
    quarter: str, request: Request, who: Principal = Depends(Allow("reopen_quarter"))
) -> Response:
    reason = str((await request.form()).get("reason") or "")
    return await in_thread(request, lambda: _reopen(request, who, quarter, reason))


def _reopen(request: Request, who: Principal, quarter: str, reason: str) -> Response:
    try:
        with unit(request) as session:
            row = reopen_quarter(session, quarter, who.username, reason)
    except IdflowError as error:
        return _quarters_page(request, who, str(error), error.http_status)
    message = f"Kwartaal {row.quarter} is heropend; versie {row.version} blijft bewaard."
    return redirect("/kwartalen", message, request)
