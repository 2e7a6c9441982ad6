"""Who may do what: roles and the permissions each route asks for (see DOMAIN.md, Privacy).

Recruiters see and advance only their own directorates' vacancies; P&O reads everything and
the alerts; auditors read everything including the audit log and change nothing; admins
manage users, the organisation and the policy, and read no procedure data.
"""

ROLES = ("recruiter", "pno", "auditor", "admin")
ROLE_LABELS = {
    "recruiter": "recruiter (W&S)",
    "pno": "P&O-adviseur",
    "auditor": "auditor",
    "admin": "beheerder",
}
PERMISSIONS: dict[str, frozenset[str]] = {
    "signed_in": frozenset(ROLES),
    "read": frozenset({"recruiter", "pno", "auditor"}),
    "advance": frozenset({"recruiter"}),
    "report": frozenset({"recruiter", "pno", "auditor"}),
    "report_unsuppressed": frozenset({"pno", "auditor"}),
    "dashboard": frozenset({"pno", "auditor"}),
    "alerts": frozenset({"pno", "auditor"}),
    "audit": frozenset({"auditor"}),
    "admin": frozenset({"admin"}),
    # Closed quarters (DOMAIN.md): who sees their status and snapshots, who fixes a quarter,
    # who reopens one, who reads the figures as they stand now or a snapshot's full record.
    "quarters": frozenset({"pno", "auditor", "admin"}),
    "close_quarter": frozenset({"pno", "admin"}),
    "reopen_quarter": frozenset({"admin"}),
    "report_restated": frozenset({"pno", "auditor"}),
    "snapshot": frozenset({"pno", "auditor"}),
}
# Roles whose reads are limited to the directorates linked to the user.
SCOPED_ROLES = frozenset({"recruiter"})
HOME = {"recruiter": "/vacatures", "pno": "/dashboard", "auditor": "/dashboard", "admin": "/beheer"}


def may(role: str, permission: str) -> bool:
    """True when ``role`` holds ``permission``."""
    return role in PERMISSIONS[permission]
