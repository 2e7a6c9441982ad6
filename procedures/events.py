"""Commands as they arrive (CLI, import file, web): the envelope and each event's data.

Parsing is strict: unknown fields, wrong types and unknown events are refused with a Dutch
message that says what was wrong and what is allowed.
"""

import hashlib
import json
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
    field_validator,
)

from procedures.errors import InvalidInput
from procedures.policy import AMSTERDAM, Policy


def _optional_text(value: str | None) -> str | None:
    value = value.strip() if value is not None else None
    return value or None


def _required_text(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("mag niet leeg zijn")
    return value


OptionalText = Annotated[str | None, AfterValidator(_optional_text)]
RequiredText = Annotated[str, AfterValidator(_required_text)]
# Codes (directorates, exit reasons, destinations) fit the 32-character code columns.
Code = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")]
# Salary scales of the municipality's job evaluation system run from 1 to 18.
MAX_SCALE = 18


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OpenData(_Data):
    directorate: Code
    scale: StrictInt = Field(le=MAX_SCALE)  # below the policy minimum: the chart says why
    title: Annotated[RequiredText, Field(max_length=300)]
    kind: Literal["internal", "external"]


class NoData(_Data):
    pass


class ApproveTextData(_Data):
    # Optional: with the vacancy text attached, the inclusive-text check runs and its result
    # is kept with the transition as evidence.
    text: OptionalText = None
    explanation: OptionalText = None


class DeviationData(_Data):
    explanation: OptionalText = None


class BiwsData(_Data):
    checklist: dict[str, StrictBool]


class ShortlistData(_Data):
    invited: StrictInt = Field(ge=1)
    # Used to decide the Rooney outcome and then dropped: it is never stored.
    diverse: StrictInt = Field(ge=0)


class HireData(_Data):
    # A pseudonymous staff number: letters, digits and dashes, no names.
    employee: Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{1,32}$")]
    start_date: date


class CancelData(_Data):
    reason: OptionalText = None


class DepartureData(_Data):
    leave_date: date
    destination: Code | None = None


class ExitInterviewData(_Data):
    held: StrictBool
    reasons: list[Code] = Field(default_factory=list)


class ExplainData(_Data):
    step: Literal["text", "biws", "rooney", "onboarding", "exit_interview"]
    explanation: RequiredText


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
    """An event as sent: who asks what of which vacancy, when, with which data."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, Field(min_length=1, max_length=200)]
    vacancy: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    event: str
    at: datetime
    actor: Annotated[str, Field(min_length=1, max_length=200)]
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
            raise ValueError("moet een tijdstip in ISO 8601 zijn, als tekst")
        try:
            return datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(
                f"'{value}' is geen tijdstip in ISO 8601 (bijv. 2025-01-06T09:30:00+01:00)"
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
                f"onbekende gebeurtenis '{value}'; bekend zijn: {', '.join(DATA_SCHEMAS)}"
            )
        return value


def parse_event(raw: Any) -> EventIn:
    """Validate a raw event (a dict from JSON or CSV) or raise ``InvalidInput``."""
    if not isinstance(raw, dict):
        raise InvalidInput("Een gebeurtenis moet een JSON-object zijn.")
    try:
        return EventIn.model_validate(raw)
    except ValidationError as error:
        raise InvalidInput(dutch_errors(error, "gebeurtenis")) from None


def parse_data(event: EventIn) -> _Data:
    """Validate the event's data against the schema of its event."""
    schema = DATA_SCHEMAS[event.event]
    try:
        return schema.model_validate(event.data)
    except ValidationError as error:
        allowed = ", ".join(schema.model_fields) or "geen velden"
        message = dutch_errors(error, f"data van {event.event}")
        raise InvalidInput(f"{message} (toegestane velden: {allowed})") from None


_MESSAGES = {
    "missing": "ontbreekt",
    "extra_forbidden": "is geen toegestaan veld",
    "int_type": "moet een geheel getal zijn",
    "int_parsing": "moet een geheel getal zijn",
    "bool_type": "moet true of false zijn",
    "bool_parsing": "moet true of false zijn",
    "string_type": "moet tekst zijn",
    "dict_type": "moet een JSON-object zijn",
    "list_type": "moet een lijst zijn",
    "date_type": "moet een datum zijn (JJJJ-MM-DD)",
    "date_parsing": "moet een datum zijn (JJJJ-MM-DD)",
    "date_from_datetime_parsing": "moet een datum zijn (JJJJ-MM-DD)",
    "datetime_type": "moet een tijdstip in ISO 8601 zijn",
    "datetime_parsing": "moet een tijdstip in ISO 8601 zijn (bijv. 2025-01-06T09:30:00+01:00)",
    "datetime_from_date_parsing": "moet een tijdstip in ISO 8601 zijn",
    "string_too_short": "mag niet leeg zijn",
    "string_too_long": "is te lang",
    "string_pattern_mismatch": "bevat ongeldige tekens (alleen letters, cijfers, - . _)",
}


def dutch_errors(error: ValidationError, what: str) -> str:
    """Turn pydantic's errors into one Dutch sentence per problem."""
    parts = []
    for item in error.errors():
        field = ".".join(str(p) for p in item["loc"]) or what
        kind = item["type"]
        ctx = item.get("ctx") or {}
        if kind == "greater_than_equal":
            text = f"moet minstens {ctx.get('ge')} zijn"
        elif kind == "less_than_equal":
            text = f"mag hoogstens {ctx.get('le')} zijn"
        elif kind == "too_short":
            text = f"moet minstens {ctx.get('min_length')} waarde(n) bevatten"
        elif kind in ("string_too_long", "too_long"):
            text = f"is te lang (hoogstens {ctx.get('max_length')} tekens)"
        elif kind == "literal_error":
            text = f"moet een van deze waarden zijn: {ctx.get('expected')}"
        elif kind in ("value_error", "assertion_error"):
            text = str(ctx.get("error", item["msg"]))
        else:
            text = _MESSAGES.get(kind, item["msg"])
        parts.append(f"{field}: {text}")
    return f"Ongeldige {what}: " + "; ".join(parts) + "."


def event_digest(event: EventIn, data: _Data, policy: Policy) -> str:
    """A fingerprint of the event's content, to tell a duplicate from a reused id.

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
        "at": utc_iso(event.at),
        "actor": event.actor,
        "data": content,
    }
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
