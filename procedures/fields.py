"""The rules for everything people type, shared by every entry point (API, forms, CLI, import).

- ``LIMITS``: the documented maximum of every free-text field; longer input is refused with
  the limit named, never cut off;
- the field types: free text keeps tabs and line breaks but no other control characters,
  one-line text (titles, names, actors) neither; dates and times are ISO 8601 text;
- :func:`dutch_problems`: pydantic's (and FastAPI's) validation errors in Dutch, never in
  pydantic's English.
"""

import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, StrictStr, ValidationError

# The longest accepted value of every free-text field, in characters (README, "Limits").
# Longer input is refused with the limit named, never cut off.
LIMITS = {
    "title": 300,  # the vacancy title (the column's size)
    "explanation": 2_000,  # comply or explain: explain, deviate_*, approve_text
    "reason": 2_000,  # cancel
    "text": 20_000,  # the vacancy text of approve_text and the text check
    "actor": 200,
    "id": 200,
    "name": 200,  # cluster and directorate names (organisation file)
}
# Salary scales of the municipality's job evaluation system run from 1 to 18.
MAX_SCALE = 18
# Free text may hold tabs and line breaks; one-line text (titles, names, actors) neither.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_CONTROL_OR_BREAK = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
ONE_LINE = "moet één regel tekst zijn, zonder regeleinden of stuurtekens"


def shown(value: Any, width: int = 40) -> str:
    """A value as a refusal may quote it: short, so a refusal never repeats a huge input."""
    text = str(value)
    return text if len(text) <= width else text[:width] + "…"


def one_line_problem(value: str) -> str | None:
    """Why ``value`` cannot be a one-line name or title (None: it can)."""
    return ONE_LINE if _CONTROL_OR_BREAK.search(value) else None


def _text(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("bevat stuurtekens; alleen tekst, tabs en regeleinden zijn toegestaan")
    return value


def _optional_text(value: str | None) -> str | None:
    value = _text(value).strip() if value is not None else None
    return value or None


def _required_text(value: str) -> str:
    value = _text(value).strip()
    if not value:
        raise ValueError("mag niet leeg zijn")
    return value


def one_line(value: str) -> str:
    if one_line_problem(value):
        raise ValueError(ONE_LINE)
    return value


def _iso_date(value: Any) -> Any:
    # pydantic would also take a number as Unix time; a date is ISO 8601 text (or a date).
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise ValueError("moet een datum zijn, als tekst JJJJ-MM-DD")
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"'{shown(value)}' is geen datum (JJJJ-MM-DD)") from None


ExplanationText = Annotated[StrictStr, Field(max_length=LIMITS["explanation"])]
Explanation = Annotated[ExplanationText | None, AfterValidator(_optional_text)]
RequiredExplanation = Annotated[ExplanationText, AfterValidator(_required_text)]
Reason = Annotated[
    Annotated[StrictStr, Field(max_length=LIMITS["reason"])] | None, AfterValidator(_optional_text)
]
VacancyText = Annotated[
    Annotated[StrictStr, Field(max_length=LIMITS["text"])] | None, AfterValidator(_optional_text)
]
Title = Annotated[
    StrictStr,
    Field(max_length=LIMITS["title"]),
    AfterValidator(one_line),
    AfterValidator(_required_text),
]
IsoDate = Annotated[date, BeforeValidator(_iso_date)]
# Codes (directorates, exit reasons, destinations) fit the 32-character code columns.
Code = Annotated[StrictStr, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")]

AT_AS_TEXT = "moet een tijdstip in ISO 8601 zijn, als tekst (bijv. 2025-01-06T09:30:00+01:00)"


# One strict rule for every entry point (API, CLI --data, import): a number is a JSON
# number, a yes/no a JSON boolean, text a JSON string, a date or time ISO 8601 text. Nothing
# is converted, and every refusal below is Dutch; an error type not listed here still gets a
# Dutch sentence, never pydantic's English.
_MESSAGES = {
    "missing": "ontbreekt",
    "extra_forbidden": "is geen toegestaan veld",
    "int_type": "moet een geheel getal zijn (een JSON-getal, geen tekst)",
    "int_parsing": "moet een geheel getal zijn",
    "int_from_float": "moet een geheel getal zijn, zonder decimalen",
    "float_type": "moet een getal zijn",
    "float_parsing": "moet een getal zijn",
    "bool_type": "moet true of false zijn (een JSON-boolean, geen tekst)",
    "bool_parsing": "moet true of false zijn",
    "string_type": "moet tekst zijn",
    "dict_type": "moet een JSON-object zijn",
    "model_type": "moet een JSON-object zijn",
    "model_attributes_type": "moet een JSON-object zijn",
    "list_type": "moet een lijst zijn",
    "tuple_type": "moet een lijst zijn",
    "json_invalid": "is geen geldige JSON",
    "json_type": "is geen geldige JSON",
    "date_type": "moet een datum zijn (JJJJ-MM-DD)",
    "date_parsing": "moet een datum zijn (JJJJ-MM-DD)",
    "date_from_datetime_parsing": "moet een datum zijn (JJJJ-MM-DD)",
    "datetime_type": "moet een tijdstip in ISO 8601 zijn",
    "datetime_parsing": "moet een tijdstip in ISO 8601 zijn (bijv. 2025-01-06T09:30:00+01:00)",
    "datetime_from_date_parsing": "moet een tijdstip in ISO 8601 zijn",
    "string_too_short": "mag niet leeg zijn",
    "string_pattern_mismatch": "bevat ongeldige tekens (alleen letters, cijfers, - . _)",
    "enum": "heeft een waarde die niet is toegestaan",
}
# Fields whose refusal says more than the type's general message.
_FIELD_MESSAGES = {("at", "string_type"): AT_AS_TEXT}
_UNKNOWN = "heeft een ongeldige waarde"
# Error types whose message names the bound from pydantic's context.
_BOUNDS = {
    "greater_than_equal": ("moet minstens {} zijn", "ge"),
    "greater_than": ("moet groter zijn dan {}", "gt"),
    "less_than_equal": ("mag hoogstens {} zijn", "le"),
    "less_than": ("moet kleiner zijn dan {}", "lt"),
    "too_short": ("moet minstens {} waarde(n) bevatten", "min_length"),
    "too_long": ("mag hoogstens {} waarden bevatten", "max_length"),
    "string_too_long": ("is te lang (hoogstens {} tekens)", "max_length"),
    "literal_error": ("moet een van deze waarden zijn: {}", "expected"),
}


def dutch_problems(errors: Iterable[Mapping[str, Any]], what: str) -> list[str]:
    """pydantic's (or FastAPI's) errors as one Dutch phrase per problem: ``field: what``."""
    parts = []
    for item in errors:
        loc = [str(p) for p in item.get("loc", ()) if p != "body"]
        field = ".".join(loc) or what
        parts.append(f"{field}: {_message(item, loc[-1] if loc else '')}")
    return parts


def _message(item: Mapping[str, Any], name: str) -> str:
    kind = item.get("type", "")
    ctx = item.get("ctx") or {}
    if (name, kind) in _FIELD_MESSAGES:
        return _FIELD_MESSAGES[(name, kind)]
    if kind in _BOUNDS:
        text, key = _BOUNDS[kind]
        # pydantic lists literal choices as "'a' or 'b'".
        return text.format(str(ctx.get(key)).replace(" or ", " of "))
    if kind in ("value_error", "assertion_error") and "error" in ctx:
        return str(ctx["error"])
    return _MESSAGES.get(kind, _UNKNOWN)


def dutch_errors(error: ValidationError, what: str) -> str:
    """Turn pydantic's errors into one Dutch sentence per problem."""
    return f"Ongeldige {what}: " + "; ".join(dutch_problems(error.errors(), what)) + "."
