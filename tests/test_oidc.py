"""Sign-in through the identity provider, without a browser: the rules from claims and the
mapping file to a role (``procedures/access.py``), the just-in-time account on both databases
(``procedures/accounts.py``), the single-use sign-in state, and what IDFLOW_AUTH offers. The
whole flow against a real provider is ``tests/e2e/test_oidc_browser.py``."""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select
from typer.testing import CliRunner

from idflow.users_cli import users_app
from models import get_settings
from models.tables import ApiToken, WebSession
from procedures.access import (
    GroupMapping,
    NoRole,
    RoleGrant,
    claimed_role,
    mapped_role,
    parse_group_mapping,
    sign_in_methods,
)
from procedures.accounts import (
    AccountDisabled,
    ProviderIdentity,
    authenticate,
    create_user,
    deactivate_user,
    issue_token,
    provider_sign_in,
    set_password,
)
from procedures.errors import IdflowError, InvalidInput, RuleViolation
from procedures.sessions import keep_sign_in_state, start_session, take_sign_in_state
from web.app import create_app

sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
ISSUER = "https://login.example.test/tenant/v2.0"
MAPPING = GroupMapping(
    "groups",
    {
        "g-ojz": RoleGrant("recruiter", ("SOC-OJZ",)),
        "g-wpi": RoleGrant("recruiter", ("SOC-WPI",)),
        "g-pno": RoleGrant("pno"),
    },
)

# -- from claims to a role ------------------------------------------------------------------


def test_the_mapping_gives_one_role_and_a_recruiter_the_directorates_of_all_their_groups() -> None:
    both = mapped_role({"groups": ["g-wpi", "g-ojz", "g-other"]}, MAPPING)
    assert both == RoleGrant("recruiter", ("SOC-OJZ", "SOC-WPI"))
    assert mapped_role({"groups": ["g-pno"]}, MAPPING) == RoleGrant("pno")


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"groups": ["g-other"]}, "Geen van uw groepen"),
        ({}, "Geen van uw groepen"),
        (
            {"groups": ["g-ojz", "g-pno"]},
            "meer dan één rol in idflow (P&O-adviseur en recruiter (W&S))",
        ),
    ],
)
def test_groups_that_give_no_role_or_two_roles_give_no_role(
    claims: dict[str, Any], reason: str
) -> None:
    outcome = mapped_role(claims, MAPPING)
    assert isinstance(outcome, NoRole) and reason in outcome.reason


def test_without_a_mapping_file_the_claims_name_the_role_and_directorates() -> None:
    claims = {"idflow_role": "recruiter", "idflow_directorates": "SOC-OJZ, SOC-WPI"}
    expected = RoleGrant("recruiter", ("SOC-OJZ", "SOC-WPI"))
    assert claimed_role(claims, "idflow_role", "idflow_directorates") == expected
    # Entra ID's app roles arrive as a list in "roles"; directorates mean nothing to P&O.
    entra = {"roles": ["pno"], "idflow_directorates": ["SOC-OJZ"]}
    assert claimed_role(entra, "roles", "idflow_directorates") == RoleGrant("pno")
    for claims in ({"idflow_role": "baas"}, {"idflow_role": "recruiter"}, {}):
        assert isinstance(claimed_role(claims, "idflow_role", "idflow_directorates"), NoRole)


def test_a_mapping_file_is_read_from_yaml_with_group_ids_as_keys() -> None:
    import yaml

    text = "groups_claim: groups\ngroups:\n  6f1c2e0a: {role: recruiter, directorates: [SOC-OJZ]}\n"
    text += "  1234: {role: auditor}\n"
    mapping = parse_group_mapping(yaml.safe_load(text), "groepen.yaml")
    assert mapping.claim == "groups"
    assert mapping.groups == {
        "6f1c2e0a": RoleGrant("recruiter", ("SOC-OJZ",)),
        "1234": RoleGrant("auditor"),  # YAML reads 1234 as a number; group ids are text
    }


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ([], "verwacht 'groups:'"),
        ({"groups": {}}, "geen enkele groep"),
        ({"groups": {"g": {"role": "pno"}}, "claim": "x"}, "onbekende sleutel(s) claim"),
        ({"groups": {"g": {"role": "baas"}}}, "onbekende rol 'baas'"),
        ({"groups": {"g": {"role": "recruiter"}}}, "minstens één directie"),
        ({"groups": {"g": {"role": "pno", "directorates": ["SOC-OJZ"]}}}, "alleen bij recruiters"),
        ({"groups": {"g": {"role": "recruiter", "directorates": "SOC-OJZ"}}}, "een lijst"),
        ({"groups": {"g": "pno"}}, "heeft alleen 'role:'"),
    ],
)
def test_a_wrong_mapping_file_is_refused_in_dutch_naming_the_problem(
    data: Any, problem: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_group_mapping(data, "groepen.yaml")
    assert str(refused.value).startswith("Koppelbestand groepen.yaml: ")
    assert problem in str(refused.value)


def test_idflow_auth_names_local_oidc_or_both() -> None:
    assert sign_in_methods("both") == {"local", "oidc"}
    assert sign_in_methods("OIDC") == {"oidc"}
    with pytest.raises(InvalidInput, match="IDFLOW_AUTH moet local, oidc of both zijn"):
        sign_in_methods("saml")


# -- the account, just in time, on both databases -------------------------------------------


def _sign_in(engine: Engine, grant: RoleGrant | None, username: str = "rita@gemeente.nl") -> Any:
    with Session(engine, expire_on_commit=False) as session:
        who = ProviderIdentity(ISSUER, "sub-rita", username)
        user = provider_sign_in(session, who, grant)
        session.commit()
        return user


def _start(engine: Engine, user_id: int) -> None:
    with Session(engine) as session:
        start_session(session, user_id, datetime.now(UTC), id_token="header.claims.signature")
        issue_token(session, user_id, "script")
        session.commit()


def _count(engine: Engine, table: Any, user_id: int, *where: Any) -> int:
    with Session(engine) as session:
        return len(session.exec(select(table).where(table.user_id == user_id, *where)).all())


def test_the_account_is_made_at_the_first_sign_in_and_follows_later_group_changes(
    engine: Engine,
) -> None:
    user = _sign_in(engine, RoleGrant("recruiter", ("SOC-OJZ",)))
    assert (user.role, user.oidc_subject, user.password_hash) == ("recruiter", "sub-rita", "")
    _start(engine, user.id)
    # The same groups again: same account, the session stays.
    assert _sign_in(engine, RoleGrant("recruiter", ("SOC-OJZ",))).id == user.id
    assert _count(engine, WebSession, user.id) == 1
    # Other groups: the new role applies and older sessions end; her API token stays.
    changed = _sign_in(engine, RoleGrant("pno"), username="rita.jansen@gemeente.nl")
    assert (changed.id, changed.role, changed.username) == (
        user.id,
        "pno",
        "rita.jansen@gemeente.nl",
    )
    assert _count(engine, WebSession, user.id) == 0
    assert _count(engine, ApiToken, user.id, ApiToken.revoked == False) == 1  # noqa: E712


def test_a_sign_in_without_a_role_ends_the_accounts_sessions_and_tokens(engine: Engine) -> None:
    assert _sign_in(engine, None) is None  # no account is made for nobody
    user = _sign_in(engine, RoleGrant("auditor"))
    _start(engine, user.id)
    assert _sign_in(engine, None) is None
    assert _count(engine, WebSession, user.id) == 0
    assert _count(engine, ApiToken, user.id, ApiToken.revoked == False) == 0  # noqa: E712


def test_a_deactivated_account_cannot_sign_in_through_the_provider(engine: Engine) -> None:
    user = _sign_in(engine, RoleGrant("pno"))
    with Session(engine) as session:
        create_user(session, "beheer", "correct-horse-battery", "admin", [])
        deactivate_user(session, user.username)
        session.commit()
    with pytest.raises(AccountDisabled, match="is in idflow uitgeschakeld"):
        _sign_in(engine, RoleGrant("pno"))


@sqlite_only
def test_provider_accounts_have_no_password_and_take_no_local_name(engine: Engine) -> None:
    user = _sign_in(engine, RoleGrant("pno"))
    with Session(engine) as session:
        assert authenticate(session, user.username, "") is None
        with pytest.raises(RuleViolation, match="meldt zich aan via de identiteitsprovider"):
            set_password(session, user.username, "een-lang-genoeg-wachtwoord")
        create_user(session, "pia", "correct-horse-battery", "pno", [])
        session.commit()
    with pytest.raises(RuleViolation, match="al een ander account met de naam 'pia'"):
        _sign_in(engine, RoleGrant("pno"), username="pia")
    with pytest.raises(InvalidInput, match="gaf geen gebruikersnaam mee die idflow kan"):
        _sign_in(engine, RoleGrant("pno"), username="Rita <script>")
    listed = CliRunner().invoke(users_app, ["list"]).output.splitlines()
    lines = {line.split()[0]: line for line in listed}
    assert "(via de identiteitsprovider)" in lines["rita@gemeente.nl"]
    assert "identiteitsprovider" not in lines["pia"]


@sqlite_only
def test_unknown_directorates_from_the_provider_are_refused(engine: Engine) -> None:
    with pytest.raises(InvalidInput, match="Onbekende directie"):
        _sign_in(engine, RoleGrant("recruiter", ("NERGENS",)))


def test_a_sign_in_state_is_taken_once_and_not_after_it_expires(engine: Engine) -> None:
    now = datetime.now(UTC)
    with Session(engine) as session:
        keep_sign_in_state(session, "_state_idp_a", '{"data": 1}', now, 600)
        keep_sign_in_state(session, "_state_idp_b", '{"data": 2}', now - timedelta(hours=2), 600)
        session.commit()
    with Session(engine) as session:
        assert take_sign_in_state(session, "_state_idp_a", now) == '{"data": 1}'
        assert take_sign_in_state(session, "_state_idp_a", now) is None
        assert take_sign_in_state(session, "_state_idp_b", now) is None
        session.commit()


# -- what the web app offers ----------------------------------------------------------------


def _app(db_url: str, **settings: Any) -> Any:
    return create_app(db_url, get_settings().model_copy(update=settings))


PROVIDER = {"oidc_issuer": ISSUER, "oidc_client_id": "idflow", "cookie_secure": False}


@sqlite_only
def test_with_idflow_auth_oidc_there_is_no_password_form_and_a_password_is_refused(
    engine: Engine, db_url: str
) -> None:
    client = TestClient(_app(db_url, auth="oidc", **PROVIDER))
    page = client.get("/login")
    assert 'id="oidc-sign-in"' in page.text and 'name="password"' not in page.text
    assert "Aanmelden met uw organisatieaccount" in page.text
    csrf = page.text.split('name="csrf-token" content="')[1].split('"')[0]
    with Session(engine) as session:
        create_user(session, "beheer", "correct-horse-battery", "admin", [])
        session.commit()
    form = {"username": "beheer", "password": "correct-horse-battery", "csrf": csrf}
    answer = client.post("/login", data=form, follow_redirects=False)
    assert answer.status_code == 403 and "staat op deze installatie uit" in answer.text
    # The sign-out form may send the browser on to the provider; nothing else is allowed.
    csp = page.headers["content-security-policy"]
    assert "form-action 'self' https://login.example.test;" in csp


@sqlite_only
def test_with_idflow_auth_local_there_is_no_provider_button_and_no_provider_route(
    engine: Engine, db_url: str
) -> None:
    client = TestClient(_app(db_url, auth="local", **PROVIDER))
    page = client.get("/login")
    assert 'name="password"' in page.text and "oidc-sign-in" not in page.text
    assert "form-action 'self';" in page.headers["content-security-policy"]
    assert client.get("/login/oidc", follow_redirects=False).status_code == 404


@sqlite_only
def test_incomplete_provider_settings_or_a_wrong_mapping_file_stop_the_app_in_dutch(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    with pytest.raises(IdflowError, match="vraagt IDFLOW_OIDC_ISSUER"):
        _app(db_url, auth="both")
    with pytest.raises(IdflowError, match="IDFLOW_AUTH moet"):
        _app(db_url, auth="ldap")
    wrong = tmp_path / "groepen.yaml"
    wrong.write_text("groups:\n  g1: {role: koning}\n", encoding="utf-8")
    with pytest.raises(IdflowError, match="groepen.yaml: groep 'g1' heeft onbekende rol"):
        _app(db_url, auth="oidc", oidc_group_mapping=wrong, **PROVIDER)
    with pytest.raises(IdflowError, match="niet te lezen"):
        _app(db_url, auth="oidc", oidc_group_mapping=tmp_path / "weg.yaml", **PROVIDER)
