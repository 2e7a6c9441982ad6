"""Who may do what: every access rule of idflow, as tables (DOMAIN.md, Privacy).

Nothing here reads or writes storage: the web app and the CLI pass in what they know and get
an answer, or a Dutch refusal. Adding a rule is adding a row:

- ``PERMISSIONS``: a permission, the roles that hold it and whether it changes anything
  (read-only API tokens never hold a permission that changes something);
- ``REPORT_FORMATS``: the permission each report format needs;
- ``SCOPED_ROLES``: roles that see only the directorates linked to the account;
- account rules (``USERNAME``, ``PASSWORD_LENGTH``, ``TOKEN_DAYS``, the sign-in backoff).

A vacancy outside a principal's directorates answers exactly as a missing one, and a vacancy
number or event id in use there is only "not available" (:func:`event_refusal`).
"""

import re
from dataclasses import dataclass
from typing import Any

from procedures.errors import (
    EventIdReused,
    EventNotAllowed,
    InvalidInput,
    RefusedError,
    RuleViolation,
    UnknownVacancy,
)

ROLES = ("recruiter", "pno", "auditor", "admin")
ROLE_LABELS = {
    "recruiter": "recruiter (W&S)",
    "pno": "P&O-adviseur",
    "auditor": "auditor",
    "admin": "beheerder",
}
_ALL = frozenset(ROLES)
_READERS = frozenset({"recruiter", "pno", "auditor"})
_MUNICIPAL_READERS = frozenset({"pno", "auditor"})


@dataclass(frozen=True)
class Permission:
    """The roles holding a permission, and whether using it changes something."""

    roles: frozenset[str]
    writes: bool = False


PERMISSIONS: dict[str, Permission] = {
    "signed_in": Permission(_ALL),
    "read": Permission(_READERS),
    "advance": Permission(frozenset({"recruiter"}), writes=True),
    "report": Permission(_READERS),
    "report_unsuppressed": Permission(_MUNICIPAL_READERS),
    # The XLSX and HTML reports cover the whole municipality, with cluster totals.
    "report_municipal": Permission(_MUNICIPAL_READERS),
    "dashboard": Permission(_MUNICIPAL_READERS),
    "alerts": Permission(_MUNICIPAL_READERS),
    "audit": Permission(frozenset({"auditor"})),
    "admin": Permission(frozenset({"admin"}), writes=True),
    # Closed quarters (DOMAIN.md): who sees their status and snapshots, who fixes a quarter,
    # who reopens one, who reads the figures as they stand now or a snapshot's full record.
    "quarters": Permission(frozenset({"pno", "auditor", "admin"})),
    "close_quarter": Permission(frozenset({"pno", "admin"}), writes=True),
    "reopen_quarter": Permission(frozenset({"admin"}), writes=True),
    "report_restated": Permission(_MUNICIPAL_READERS),
    "snapshot": Permission(_MUNICIPAL_READERS),
}
# Roles whose reads are limited to the directorates linked to the user.
SCOPED_ROLES = frozenset({"recruiter"})
# The permission each report download needs besides "report".
REPORT_FORMATS = {
    "json": "report",
    "csv": "report",
    "xlsx": "report_municipal",
    "html": "report_municipal",
}


@dataclass(frozen=True)
class Principal:
    """Who asks: ``scope`` None means every directorate; a read-only token changes nothing."""

    user_id: int
    username: str
    role: str
    scope: frozenset[str] | None
    read_only: bool = False

    def sees(self, directorate: str) -> bool:
        return self.scope is None or directorate in self.scope


def may(role: str, permission: str) -> bool:
    """True when ``role`` holds ``permission``."""
    return role in PERMISSIONS[permission].roles


def allowed(principal: Principal, permission: str) -> bool:
    """True when the principal's role holds ``permission`` and, for a change, may write."""
    rule = PERMISSIONS[permission]
    return principal.role in rule.roles and not (rule.writes and principal.read_only)


def writes(role: str) -> bool:
    """True when ``role`` holds any permission that changes something."""
    return any(role in rule.roles for rule in PERMISSIONS.values() if rule.writes)


def holders(permission: str) -> str:
    """The Dutch names of the roles holding ``permission``, for refusals."""
    return ", ".join(ROLE_LABELS[r] for r in ROLES if may(r, permission))


# -- vacancies outside the principal's directorates -----------------------------------------


def not_visible(vacancy: str) -> UnknownVacancy:
    # The same answer whether the vacancy is missing or outside the user's directorates.
    return UnknownVacancy(f"Vacature {vacancy} bestaat niet of valt buiten uw directies.")


def check_visible(principal: Principal, vacancy: str, directorate: str | None) -> None:
    """Refuse a stored vacancy (``directorate`` None: not stored) the principal may not see."""
    if directorate is None or not principal.sees(directorate):
        raise not_visible(vacancy)


@dataclass(frozen=True)
class Facts:
    """What storage knows of an event's vacancy and id (None: unknown, or not used yet)."""

    stored: str | None = None  # the directorate of the stored vacancy
    id_used_in: str | None = None  # the directorate of the vacancy that used the event id


def event_refusal(principal: Principal, raw: dict[str, Any], facts: Facts) -> RefusedError | None:
    """Why the principal may not send this event (revealing nothing outside the scope)."""
    if principal.scope is None:
        return None
    vacancy, event = raw.get("vacancy"), raw.get("event")
    data = raw.get("data") if isinstance(raw.get("data"), dict) else {}
    if event == "open":
        directorate = data.get("directorate")  # type: ignore[union-attr]
        if isinstance(directorate, str) and not principal.sees(directorate):
            mine = ", ".join(sorted(principal.scope)) or "geen"
            return InvalidInput(
                f"Vacature {vacancy} valt buiten uw directies: u mag geen vacatures openen in "
                f"directie '{directorate}' (uw directies: {mine})."
            )
        if facts.stored is not None and not principal.sees(facts.stored):
            # A vacancy number in use in another directorate: no more than that it is taken.
            return EventNotAllowed(
                f"Vacaturenummer {vacancy} is niet beschikbaar; kies een ander nummer."
            )
    elif facts.stored is None or not principal.sees(facts.stored):
        return not_visible(str(vacancy))
    if facts.id_used_in is not None and not principal.sees(facts.id_used_in):
        # An event id used outside the scope: neither its event nor its vacancy.
        return EventIdReused(
            f"Gebeurtenis-id '{raw.get('id')}' is niet beschikbaar; kies een nieuw id."
        )
    return None


# -- reports ---------------------------------------------------------------------------------


def report_refusal(
    principal: Principal, fmt: str, suppress: bool, restated: bool = False
) -> str | None:
    """Why the principal may not download the report in ``fmt`` (None: they may)."""
    if not suppress and not allowed(principal, "report_unsuppressed"):
        return f"Ongemaskeerde cijfers zijn alleen voor: {holders('report_unsuppressed')}."
    if restated and not allowed(principal, "report_restated"):
        return f"Herberekende cijfers zijn alleen voor: {holders('report_restated')}."
    needed = REPORT_FORMATS.get(fmt, "report")
    if not allowed(principal, needed):
        return (
            f"De {fmt.upper()}-rapportage gaat over de hele gemeente (met clustertotalen) en is "
            f"voor: {holders(needed)}. U downloadt de cijfers van uw eigen directies als "
            f"{' of '.join(f.upper() for f, p in REPORT_FORMATS.items() if allowed(principal, p))}."
        )
    return None


# -- accounts --------------------------------------------------------------------------------

# Letters, digits and . _ @ -, starting with a letter or digit: no markup, spaces or control
# characters, so a user name is safe wherever it is shown (pages, logs, CSV, the CLI).
USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
USERNAME_RULE = "1 tot 64 tekens: letters, cijfers en . _ @ -, beginnend met een letter of cijfer"
PASSWORD_LENGTH = (12, 1024)
TOKEN_DAYS = (1, 365)
TOKEN_LABEL_MAX = 100


def check_username(username: str) -> str:
    """The user name as stored, or ``InvalidInput`` naming the rule."""
    name = username.strip()
    if not USERNAME.fullmatch(name):
        raise InvalidInput(f"Ongeldige gebruikersnaam; toegestaan: {USERNAME_RULE}.")
    return name


def check_password(password: str) -> None:
    low, high = PASSWORD_LENGTH
    if not low <= len(password) <= high:
        raise InvalidInput(f"Het wachtwoord moet {low} tot {high} tekens hebben.")


def check_role(role: str, directorates: list[str]) -> None:
    """A known role; recruiters need directorates, other roles have none."""
    if role not in ROLES:
        raise InvalidInput(f"Onbekende rol '{role}'; kies uit: {', '.join(ROLES)}.")
    if role in SCOPED_ROLES and not directorates:
        raise InvalidInput("Een recruiter heeft minstens één directie nodig (--directorate).")
    if role not in SCOPED_ROLES and directorates:
        raise InvalidInput(f"Directies horen alleen bij recruiters, niet bij rol '{role}'.")


def check_admin_kept(username: str, role: str, active: bool, active_admins: int) -> None:
    """The last active admin stays an active admin: otherwise nobody could manage users."""
    if role == "admin" and active and active_admins <= 1:
        raise RuleViolation(
            f"Gebruiker '{username}' is de laatste actieve beheerder en blijft actief "
            "beheerder; maak eerst een andere beheerder aan."
        )


def check_token(label: str, days: int) -> None:
    low, high = TOKEN_DAYS
    if not low <= days <= high:
        raise InvalidInput(f"Een API-token is {low} tot {high} dagen geldig, niet {days}.")
    if len(label) > TOKEN_LABEL_MAX:
        raise InvalidInput(f"Het label van een API-token heeft hoogstens {TOKEN_LABEL_MAX} tekens.")


def token_read_only(role: str, requested: bool, by: Principal | None = None) -> bool:
    """Only roles that may write get tokens that write; a read-only token makes read-only ones."""
    return requested or not writes(role) or (by is not None and by.read_only)


def sign_in_backoff_s(failures: int, free: int, base_s: float, cap_s: float) -> float:
    """How long sign-in stays refused after ``failures`` in a row (0: not refused).

    The first ``free`` - 1 failures cost nothing; from the ``free``-th on the wait doubles
    from ``base_s`` up to ``cap_s``.
    """
    if failures < free:
        return 0.0
    return float(min(cap_s, base_s * 2 ** min(failures - free, 32)))


# -- sign-in through the identity provider (OpenID Connect) ----------------------------------

# IDFLOW_AUTH: which ways of signing in the pages offer.
SIGN_IN_METHODS = {
    "local": frozenset({"local"}),
    "oidc": frozenset({"oidc"}),
    "both": frozenset({"local", "oidc"}),
}
# The mapping file's key for the claim that lists the user's groups, and its default.
GROUPS_CLAIM_KEY, GROUPS_CLAIM = "groups_claim", "groups"


def sign_in_methods(auth: str) -> frozenset[str]:
    """The ways of signing in that ``auth`` (IDFLOW_AUTH) names, or ``InvalidInput``."""
    methods = SIGN_IN_METHODS.get(auth.strip().lower())
    if methods is None:
        raise InvalidInput(
            f"IDFLOW_AUTH moet local, oidc of both zijn, niet '{auth}': local is "
            "aanmelden met gebruikersnaam en wachtwoord, oidc via de identiteitsprovider, both "
            "allebei."
        )
    return methods


@dataclass(frozen=True)
class RoleGrant:
    """What a sign-in through the provider gives: a role, and a recruiter's directorates."""

    role: str
    directorates: tuple[str, ...] = ()


@dataclass(frozen=True)
class NoRole:
    """Why a sign-in through the provider gives no role (Dutch, shown to the user)."""

    reason: str


@dataclass(frozen=True)
class GroupMapping:
    """The mapping file: the claim that lists the groups, and what each group gives."""

    claim: str
    groups: dict[str, RoleGrant]


def provider_role(
    claims: dict[str, Any], mapping: GroupMapping | None, role_claim: str, directorates_claim: str
) -> RoleGrant | NoRole:
    """What the ID token's claims give: through the mapping file when there is one, else
    from the role and directorates claims themselves."""
    if mapping is not None:
        return mapped_role(claims, mapping)
    return claimed_role(claims, role_claim, directorates_claim)


def claimed_role(
    claims: dict[str, Any], role_claim: str, directorates_claim: str
) -> RoleGrant | NoRole:
    """The role and directorates named by the claims themselves (no mapping file)."""
    roles = sorted({value for value in _strings(claims.get(role_claim)) if value in ROLES})
    if not roles:
        return NoRole("Uw account bij de identiteitsprovider heeft geen rol voor idflow.")
    directorates = _strings(claims.get(directorates_claim), split=True)
    return _one_role(roles, directorates, "Uw account heeft")


def mapped_role(claims: dict[str, Any], mapping: GroupMapping) -> RoleGrant | NoRole:
    """The role and directorates the user's groups give through the mapping file: every
    group must give the same role; a recruiter gets the directorates of all their groups."""
    grants = [mapping.groups[g] for g in _strings(claims.get(mapping.claim)) if g in mapping.groups]
    if not grants:
        return NoRole("Geen van uw groepen bij de identiteitsprovider geeft toegang tot idflow.")
    directorates = [code for grant in grants for code in grant.directorates]
    return _one_role(sorted({g.role for g in grants}), directorates, "Uw groepen geven")


def _one_role(roles: list[str], directorates: list[str], whose: str) -> RoleGrant | NoRole:
    if len(roles) > 1:
        names = " en ".join(ROLE_LABELS[role] for role in roles)
        return NoRole(f"{whose} meer dan één rol in idflow ({names}); u kunt er één hebben.")
    role = roles[0]
    if role not in SCOPED_ROLES:
        return RoleGrant(role)
    if not directorates:
        return NoRole(
            "Als recruiter heeft u minstens één directie nodig, en er is er geen genoemd."
        )
    return RoleGrant(role, tuple(sorted(set(directorates))))


def _strings(value: Any, split: bool = False) -> list[str]:
    """A claim as a list of strings: a list as it is, a text as one (or, ``split``, as the
    words between commas and spaces)."""
    if isinstance(value, str):
        return value.replace(",", " ").split() if split else [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []


def parse_group_mapping(data: Any, source: str) -> GroupMapping:
    """The mapping file's content (parsed YAML), or ``InvalidInput`` naming what is wrong."""

    def refuse(problem: str) -> InvalidInput:
        return InvalidInput(f"Koppelbestand {source}: {problem}")

    if not isinstance(data, dict) or not isinstance(data.get("groups"), dict):
        raise refuse("verwacht 'groups:' met per groep een 'role:' (zie README).")
    unknown = sorted(set(data) - {"groups", GROUPS_CLAIM_KEY})
    if unknown:
        raise refuse(
            f"onbekende sleutel(s) {', '.join(unknown)}; toegestaan: groups, groups_claim."
        )
    claim = data.get(GROUPS_CLAIM_KEY, GROUPS_CLAIM)
    if not isinstance(claim, str) or not claim.strip():
        raise refuse("groups_claim moet de naam van een claim zijn.")
    groups = {
        str(name): _group_grant(str(name), entry, refuse) for name, entry in data["groups"].items()
    }
    if not groups:
        raise refuse("er staat geen enkele groep in.")
    return GroupMapping(claim.strip(), groups)


def _group_grant(name: str, entry: Any, refuse: Any) -> RoleGrant:
    if not isinstance(entry, dict) or set(entry) - {"role", "directorates"}:
        raise refuse(f"groep '{name}' heeft alleen 'role:' en (voor recruiters) 'directorates:'.")
    role, directorates = entry.get("role"), entry.get("directorates", [])
    if role not in ROLES:
        raise refuse(f"groep '{name}' heeft onbekende rol '{role}'; kies uit {', '.join(ROLES)}.")
    if not isinstance(directorates, list) or not all(isinstance(d, str) for d in directorates):
        raise refuse(f"groep '{name}': directorates is een lijst van directiecodes.")
    if role in SCOPED_ROLES and not directorates:
        raise refuse(f"groep '{name}' is voor recruiters en heeft minstens één directie nodig.")
    if role not in SCOPED_ROLES and directorates:
        raise refuse(f"groep '{name}': directies horen alleen bij recruiters, niet bij '{role}'.")
    return RoleGrant(role, tuple(directorates))
