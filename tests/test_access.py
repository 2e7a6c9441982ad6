"""Every access rule in one place (procedures/access.py), as tables written from DOMAIN.md.

The expected tables below are written out, not derived from the module: a change of a rule
must change a row here too.
"""

from typing import Any

import pytest

from procedures import access
from procedures.access import Facts, Principal
from procedures.errors import (
    EventIdReused,
    EventNotAllowed,
    InvalidInput,
    RuleViolation,
    UnknownVacancy,
)

R, P, A, D = "recruiter", "pno", "auditor", "admin"
# DOMAIN.md, Privacy: recruiter: own directorates; P&O: all, read and alerts; auditor:
# read-only incl. audit log; admin: organisation and policy (no procedure data).
ROLE_PERMISSIONS = {
    "signed_in": {R, P, A, D},
    "read": {R, P, A},
    "advance": {R},
    "report": {R, P, A},
    "report_unsuppressed": {P, A},
    "report_municipal": {P, A},
    "dashboard": {P, A},
    "alerts": {P, A},
    "audit": {A},
    "admin": {D},
    # Closed quarters: P&O and admins close, only admins reopen (DOMAIN.md).
    "quarters": {P, A, D},
    "close_quarter": {P, D},
    "reopen_quarter": {D},
    "report_restated": {P, A},
    "snapshot": {P, A},
}
WRITES = {"advance", "admin", "close_quarter", "reopen_quarter"}


@pytest.mark.parametrize("permission", sorted(ROLE_PERMISSIONS))
@pytest.mark.parametrize("role", [R, P, A, D])
def test_each_role_holds_exactly_its_permissions(role: str, permission: str) -> None:
    assert access.may(role, permission) == (role in ROLE_PERMISSIONS[permission])


def test_the_table_has_exactly_these_permissions_and_these_change_something() -> None:
    assert set(access.PERMISSIONS) == set(ROLE_PERMISSIONS)
    assert {name for name, rule in access.PERMISSIONS.items() if rule.writes} == WRITES


@pytest.mark.parametrize(
    ("role", "read_only", "permission", "allowed"),
    [
        (R, False, "advance", True),
        (R, True, "advance", False),  # a read-only token changes nothing
        (R, True, "read", True),
        (D, True, "admin", False),
        (D, False, "admin", True),
        (A, True, "audit", True),
        (P, True, "dashboard", True),
    ],
)
def test_a_read_only_principal_keeps_only_the_permissions_that_change_nothing(
    role: str, read_only: bool, permission: str, allowed: bool
) -> None:
    principal = Principal(1, "x", role, None, read_only)
    assert access.allowed(principal, permission) is allowed


@pytest.mark.parametrize(
    ("role", "requested", "read_only"),
    [
        (R, False, False),  # roles that may write get tokens that write
        (D, False, False),
        (R, True, True),  # asked for
        (A, False, True),  # an auditor gets read-only tokens
        (P, False, False),  # P&O closes quarters
        (P, True, True),
    ],
)
def test_only_roles_that_may_write_get_tokens_that_write(
    role: str, requested: bool, read_only: bool
) -> None:
    assert access.token_read_only(role, requested) is read_only


def test_a_read_only_token_makes_only_read_only_tokens() -> None:
    by = Principal(1, "rita", R, frozenset({"SOC-OJZ"}), read_only=True)
    assert access.token_read_only(R, False, by) is True


# -- another directorate's vacancy answers as missing ---------------------------------------

RITA = Principal(1, "rita", R, frozenset({"SOC-OJZ"}))
PIA = Principal(2, "pia", P, None)
OPEN = {"id": "e-1", "vacancy": "V1", "event": "open", "data": {"directorate": "SOC-OJZ"}}
STEP = {"id": "e-2", "vacancy": "V1", "event": "approve_text", "data": {}}
FOREIGN_OPEN = OPEN | {"data": {"directorate": "SOC-WPI"}}


@pytest.mark.parametrize(
    ("principal", "raw", "facts", "refusal", "words"),
    [
        (RITA, OPEN, Facts(), None, None),
        (RITA, FOREIGN_OPEN, Facts(), InvalidInput, "valt buiten uw directies"),
        (RITA, OPEN, Facts(stored="SOC-WPI"), EventNotAllowed, "is niet beschikbaar"),
        (RITA, OPEN, Facts(stored="SOC-OJZ"), None, None),  # the engine says "bestaat al"
        (RITA, STEP, Facts(stored="SOC-OJZ"), None, None),
        (RITA, STEP, Facts(stored="SOC-WPI"), UnknownVacancy, "bestaat niet of valt buiten"),
        (RITA, STEP, Facts(stored=None), UnknownVacancy, "bestaat niet of valt buiten"),
        (RITA, STEP, Facts("SOC-OJZ", id_used_in="SOC-WPI"), EventIdReused, "niet beschikbaar"),
        (RITA, STEP, Facts("SOC-OJZ", id_used_in="SOC-OJZ"), None, None),
        (PIA, FOREIGN_OPEN, Facts(stored="SOC-OJZ"), None, None),  # every directorate
        (PIA, STEP, Facts(stored=None), None, None),
    ],
)
def test_events_outside_the_own_directorates_are_refused_revealing_nothing(
    principal: Principal, raw: dict[str, Any], facts: Facts, refusal: Any, words: str | None
) -> None:
    found = access.event_refusal(principal, raw, facts)
    if refusal is None:
        assert found is None
        return
    assert type(found) is refusal and words in str(found)
    assert "SOC-WPI" not in str(found) or raw is FOREIGN_OPEN  # the other directorate: unnamed


def test_a_hidden_vacancy_answers_exactly_as_a_missing_one() -> None:
    hidden = access.event_refusal(RITA, STEP, Facts(stored="SOC-WPI"))
    missing = access.event_refusal(RITA, STEP, Facts(stored=None))
    assert str(hidden) == str(missing)
    with pytest.raises(UnknownVacancy) as shown:
        access.check_visible(RITA, "V1", "SOC-WPI")
    assert str(shown.value) == str(missing)
    access.check_visible(RITA, "V1", "SOC-OJZ")
    access.check_visible(PIA, "V1", "SOC-WPI")


# -- reports ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("principal", "fmt", "suppress", "restated", "refused"),
    [
        (RITA, "json", True, False, None),
        (RITA, "csv", True, False, None),
        (RITA, "xlsx", True, False, "JSON of CSV"),
        (RITA, "html", True, False, "JSON of CSV"),
        (
            RITA,
            "csv",
            False,
            False,
            "Ongemaskeerde cijfers zijn alleen voor: P&O-adviseur, auditor",
        ),
        (PIA, "xlsx", True, False, None),
        (PIA, "html", False, False, None),
        (Principal(3, "aud", A, None, read_only=True), "csv", False, False, None),
        (PIA, "json", True, True, None),
        (RITA, "json", True, True, "Herberekende cijfers zijn alleen voor: P&O-adviseur, auditor"),
    ],
)
def test_who_may_download_which_report(
    principal: Principal, fmt: str, suppress: bool, restated: bool, refused: str | None
) -> None:
    found = access.report_refusal(principal, fmt, suppress, restated)
    assert (found is None) if refused is None else (found is not None and refused in found)


# -- accounts --------------------------------------------------------------------------------


def _check(rule: Any, *args: Any, problem: str | None, error: type = InvalidInput) -> None:
    """The rule accepts ``args`` (problem None) or refuses them with ``problem``."""
    if problem is None:
        rule(*args)
        return
    with pytest.raises(error, match=problem):
        rule(*args)


@pytest.mark.parametrize(
    ("username", "valid"),
    [
        ("rita", True),
        ("r.de-vries_2@amsterdam.nl", True),
        ("x" * 64, True),
        ("x" * 65, False),
        ("", False),
        ("<b>x</b>", False),
        ("a\nb", False),
        ("tab\tname", False),
        ("nul\x00", False),
        ("met spatie", False),
        ("-start", False),
        ("&amp;", False),
        ("'; DROP", False),
        ("rené", False),
    ],
)
def test_user_names_are_letters_digits_and_few_marks_without_markup_or_control_characters(
    username: str, valid: bool
) -> None:
    if valid:
        assert access.check_username(f"  {username} ") == username
    else:
        with pytest.raises(InvalidInput, match="letters, cijfers en . _ @ -") as refused:
            access.check_username(username)
        assert username not in str(refused.value) or not username  # not repeated


@pytest.mark.parametrize(
    ("password", "valid"),
    [("x" * 11, False), ("x" * 12, True), ("x" * 1024, True), ("x" * 1025, False)],
)
def test_passwords_have_12_to_1024_characters(password: str, valid: bool) -> None:
    _check(access.check_password, password, problem=None if valid else "12 tot 1024 tekens")


@pytest.mark.parametrize(
    ("role", "directorates", "problem"),
    [
        (R, ["SOC-OJZ"], None),
        (R, [], "minstens één directie"),
        (P, [], None),
        (P, ["SOC-OJZ"], "alleen bij recruiters"),
        (A, [], None),
        (D, [], None),
        ("boss", [], "Onbekende rol 'boss'"),
    ],
)
def test_recruiters_and_only_recruiters_have_directorates(
    role: str, directorates: list[str], problem: str | None
) -> None:
    _check(access.check_role, role, directorates, problem=problem)


@pytest.mark.parametrize(
    ("role", "active", "active_admins", "kept"),
    [
        (D, True, 1, True),  # the last active admin
        (D, True, 2, False),
        (D, False, 1, False),  # already inactive: nothing to keep
        (R, True, 1, False),
    ],
)
def test_the_last_active_admin_stays_an_active_admin(
    role: str, active: bool, active_admins: int, kept: bool
) -> None:
    problem = "laatste actieve beheerder" if kept else None
    _check(access.check_admin_kept, "adm", role, active, active_admins, problem=problem,
           error=RuleViolation)  # fmt: skip


@pytest.mark.parametrize(
    ("label", "days", "problem"),
    [
        ("ats", 90, None),
        ("ats", 1, None),
        ("ats", 365, None),
        ("ats", 0, "1 tot 365 dagen"),
        ("ats", 366, "1 tot 365 dagen"),
        ("x" * 101, 90, "hoogstens 100 tekens"),
    ],
)
def test_tokens_live_one_to_365_days_with_a_short_label(
    label: str, days: int, problem: str | None
) -> None:
    _check(access.check_token, label, days, problem=problem)


# With the defaults four failures in a row cost nothing; the fifth makes sign-in wait 30 s,
# and every further one doubles the wait, up to 15 minutes.
@pytest.mark.parametrize(
    ("failures", "wait_s"),
    [(0, 0), (4, 0), (5, 30), (6, 60), (7, 120), (9, 480), (10, 900), (11, 900), (500, 900)],
)
def test_sign_in_waits_double_per_failure_up_to_fifteen_minutes(
    failures: int, wait_s: float
) -> None:
    assert access.sign_in_backoff_s(failures, free=5, base_s=30, cap_s=900) == wait_s
