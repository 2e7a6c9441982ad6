"""The JSON API for closed quarters: list, close, reopen, and each snapshot's full record."""

from typing import Any

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from procedures.access import Principal
from procedures.errors import InvalidInput
from procedures.quarters import close_quarter, quarter_overview, reopen_quarter
from procedures.report_builder import report_quarter
from procedures.snapshots import moment_text, snapshot_of
from web.deps import Allow, unit

router = APIRouter(prefix="/api/quarters")
VERSION = Path(ge=1, le=10_000)


class ReopenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(max_length=2000, examples=["Late import van de ATS-koppeling"])


@router.get("")
def quarters(request: Request, who: Principal = Depends(Allow("quarters"))) -> list[dict[str, Any]]:
    """Every quarter with its status (voorlopig/vastgesteld) and every snapshot version."""
    with unit(request) as session:
        return quarter_overview(session)


@router.post("/{quarter}/close")
def close(
    quarter: str, request: Request, who: Principal = Depends(Allow("close_quarter"))
) -> dict[str, Any]:
    """Close a quarter: its report is frozen in one snapshot (again: nothing changes)."""
    with unit(request) as session:
        done = close_quarter(session, quarter, who.username)
        row = done.snapshot.row
        return {"quarter": row.quarter, "version": row.version, "created": done.created,
                "closed_at": moment_text(row.closed_at), "closed_by": row.closed_by,
                "sha256": row.sha256}  # fmt: skip


@router.post("/{quarter}/reopen")
def reopen(
    quarter: str,
    body: ReopenIn,
    request: Request,
    who: Principal = Depends(Allow("reopen_quarter")),
) -> dict[str, Any]:
    """Reopen a closed quarter with a reason; its snapshot versions stay."""
    with unit(request) as session:
        row = reopen_quarter(session, quarter, who.username, body.reason)
        return {"quarter": row.quarter, "version": row.version, "reason": row.reason,
                "reopened_at": moment_text(row.reopened_at),
                "reopened_by": row.reopened_by}  # fmt: skip


@router.get("/{quarter}/snapshots/{version}")
def snapshot(
    quarter: str,
    request: Request,
    version: int = VERSION,
    who: Principal = Depends(Allow("snapshot")),
) -> dict[str, Any]:
    """One snapshot's full record (internal figures included) and its SHA-256: the hash is
    over the canonical JSON of ``content`` (sorted keys, no spaces, UTF-8)."""
    quarter = report_quarter(quarter)
    with unit(request) as session:
        found = snapshot_of(session, quarter, version)
        if found is None:
            raise InvalidInput(f"Kwartaal {quarter} heeft geen vastgestelde versie {version}.")
        return {"quarter": quarter, "version": version, "sha256": found.row.sha256,
                "content": found.content}  # fmt: skip
