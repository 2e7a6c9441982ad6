"""Commands as they arrive (CLI, import file, web): the envelope and each event's data.

Parsing is strict: unknown fields, wrong types and unknown events are refused with a Dutch
message that says what was wrong and what is allowed.
"""

import hashlib
import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
)

from procedures.errors import InvalidInput
from procedures.fields import (
    AT_AS_TEXT,
    LIMITS,
    MAX_SCALE,
    Code,
    Explanation,
    IsoDate,
    Reason,
    RequiredExplanation,
    Title,
    VacancyText,
    dutch_errors,
    one_line,
    shown,
)
from procedures.policy import AMSTERDAM, Policy


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OpenData(_Data):
    directorate: Code
    scale: StrictInt = Field(le=MAX_SCALE)  # below the policy minimum: the chart says why
    title: Title
    kind: Literal["internal", "external"]


class NoData(_Data):
    pass


class ApproveTextData(_Data):
    # Optional: with the vacancy text attached, the inclusive-text check runs and its result
    # is kept with the transition as evidence.
    text: VacancyText = None
    explanation: Explanation = None


class DeviationData(_Data):
    explanation: Explanation = None


class BiwsData(_Data):
    checklist: dict[str, StrictBool]


class ShortlistData(_Data):
    invited: StrictInt = Field(ge=1)
    # Used to decide the Rooney outcome and then dropped: it is never stored.
    diverse: StrictInt = Field(ge=0)  # at most invited: the chart says so, without the count


class HireData(_Data):
    # A pseudonymous staff number: letters, digits and dashes, no names.
    employee: Annotated[StrictStr, Field(pattern=r"^[A-Za-z0-9-]{1,32}$")]
    start_date: IsoDate


class CancelData(_Data):
    reason: Reason = None


class DepartureData(_Data):
    leave_date: IsoDate
    destination: Code | None = None


class ExitInterviewData(_Data):
    held: StrictBool
    reasons: list[Code] = Field(default_factory=list, max_length=50)


class ExplainData(_Data):
    step: Literal["text", "biws", "rooney", "onboarding", "exit_interview"]
    explanation: RequiredExplanation


DATA_SCHEMAS: dict[str, type[_Data]] = {
    "open": OpenData,
    "approve_text": ApproveTextData,
    "deviate_text": DeviationData,
    "complete_biws": BiwsData,
    "deviate_biws": DeviationData,
    "submit_shortlist": ShortlistData,
    "deviate_shortlist": DeviationData,
    "hire": HireData,
    "cancel": CancelData,
    "complete_onboarding": NoData,
    "deviate_onboarding": DeviationData,
    "register_departure": DepartureData,
    "record_exit_interview": ExitInterviewData,
    "deviate_exit_interview": DeviationData,
    "explain": ExplainData,
}


class EventIn(BaseModel):
    """An event as sent: who asks what of which vacancy, when, with which data.

    ``at`` left out (interactive use only, see :func:`parse_event`) is the moment the event
    is read, and is not part of the fingerprint: a retry of exactly what was sent is a
    duplicate, and the first application's time stands.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[StrictStr, Field(min_length=1, max_length=LIMITS["id"])]
    vacancy: Annotated[StrictStr, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    event: StrictStr
    at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    actor: Annotated[
        StrictStr, Field(min_length=1, max_length=LIMITS["actor"]), AfterValidator(one_line)
    ]
    data: dict[str, Any] = Field(default_factory=dict)
    # Optional optimistic-concurrency check: the procedure version the sender saw.
    expected_version: StrictInt | None = None

    @field_validator("at", mode="before")
    @classmethod
    def _iso_8601_only(cls, value: Any) -> Any:
        # pydantic would also take a number (or a string of digits) as Unix time: an ISO
        # basic date such as "20250106" would silently become a moment in 1970.
        if isinstance(value, datetime):
            return value
        if not isinstance(value, str):
            raise ValueError(AT_AS_TEXT)
        try:
            return datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(
                f"'{shown(value)}' is geen tijdstip in ISO 8601 (bijv. 2025-01-06T09:30:00+01:00)"
            ) from None

    @field_validator("at")
    @classmethod
    def _local_time_is_amsterdam(cls, value: datetime) -> datetime:
        # ISO 8601 without an offset is Europe/Amsterdam local time.
        return value.replace(tzinfo=AMSTERDAM) if value.tzinfo is None else value

    @field_validator("event")
    @classmethod
    def _known_event(cls, value: str) -> str:
        if value not in DATA_SCHEMAS:
            raise ValueError(
                f"onbekende gebeurtenis '{shown(value)}'; bekend zijn: {', '.join(DATA_SCHEMAS)}"
            )
        return value

    @property
    def at_given(self) -> bool:
        return "at" in self.model_fields_set


def parse_event(raw: Any, interactive: bool = False) -> EventIn:
    """Validate a raw event (a dict from JSON or CSV) or raise ``InvalidInput``.

    Only ``interactive`` use (the CLI, the web app) may leave ``at`` out: then it is now.
    """
    if not isinstance(raw, dict):
        raise InvalidInput("Een gebeurtenis moet een JSON-object zijn.")
    try:
        event = EventIn.model_validate(raw)
    except ValidationError as error:
        raise InvalidInput(dutch_errors(error, "gebeurtenis")) from None
    if not interactive and not event.at_given:
        raise InvalidInput(
            "Ongeldige gebeurtenis: at: ontbreekt (een tijdstip in ISO 8601, bijv. "
            "2025-01-06T09:30:00+01:00)."
        )
    return event


def parse_data(event: EventIn) -> _Data:
    """Validate the event's data against the schema of its event."""
    schema = DATA_SCHEMAS[event.event]
    try:
        return schema.model_validate(event.data)
    except ValidationError as error:
        allowed = ", ".join(schema.model_fields) or "geen velden"
        message = dutch_errors(error, f"data van {event.event}")
        raise InvalidInput(f"{message} (toegestane velden: {allowed})") from None


def event_digest(event: EventIn, data: _Data, policy: Policy) -> str:
    """A fingerprint of the content the client supplied, to tell a duplicate from a reused id.

    The shortlist's diverse count is replaced by the Rooney decision it leads to, which is
    stored anyway: the fingerprint must not let anyone recover the count.
    """
    content = data.model_dump(mode="json")
    if isinstance(data, ShortlistData):
        content["diverse"] = policy.rooney_met(data.invited, data.diverse)
    canonical = {
        "id": event.id,
        "vacancy": event.vacancy,
        "event": event.event,
        "actor": event.actor,
        "data": content,
    }
    if event.at_given:  # only what the client supplied: "now" would differ at every retry
        canonical["at"] = utc_iso(event.at)
    return sha256_json(canonical)


def stored_data(data: _Data) -> dict[str, Any]:
    """The data kept with the transition: everything except the diverse count."""
    return data.model_dump(mode="json", exclude={"diverse"}, exclude_none=True)


def utc_iso(moment: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.ffffffZ``, as every stored hash and digest was computed."""
    moment = moment.astimezone(UTC)
    if moment.year < 1000:  # strftime does not pad the year; the stored hashes keep that
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return moment.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


# json.dumps with these options, built once (json.dumps builds an encoder per call).
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_json(value: Any) -> str:
    return hashlib.sha256(_CANONICAL.encode(value).encode("utf-8")).hexdigest()
