"""Domain errors. Every message is Dutch: recruiters read them in the CLI and the web app.

    IdflowError
    ├── RefusedError            the event or input is not accepted; nothing changed
    │   ├── InvalidInput        malformed event, unknown or badly typed field
    │   ├── UnknownVacancy      no procedure with that vacancy number
    │   ├── EventNotAllowed     the event is not allowed in the current state
    │   ├── RuleViolation       a validator of the chart or the policy said no
    │   └── EventIdReused       an event id already used for other content
    ├── ConflictError           someone else changed the procedure first; reload and retry
    └── StorageError            the database cannot be reached or written

Entry points map these to exit codes and HTTP statuses in one place (``EXIT_CODES``).
"""


class IdflowError(Exception):
    """Base of all idflow errors; ``str(error)`` is the Dutch message."""

    exit_code = 1
    http_status = 400


class RefusedError(IdflowError):
    exit_code = 1
    http_status = 422


class InvalidInput(RefusedError):
    pass


class UnknownVacancy(RefusedError):
    http_status = 404


class EventNotAllowed(RefusedError):
    http_status = 409


class RuleViolation(RefusedError):
    pass


class EventIdReused(RefusedError):
    http_status = 409


class ConflictError(IdflowError):
    exit_code = 3
    http_status = 409


class StorageError(IdflowError):
    exit_code = 4
    http_status = 503
