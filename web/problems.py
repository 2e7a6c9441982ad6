"""Errors as answers: RFC 9457 problem details for the API, Dutch pages for people."""

import logging
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException

from procedures.errors import IdflowError, InvalidInput
from procedures.fields import dutch_problems
from web.deps import CsrfFailed, Forbidden, NotSignedIn
from web.guard import security_headers

log = logging.getLogger("idflow.web")

PROBLEM_TYPE = "application/problem+json"
TITLES = {
    400: "Ongeldig verzoek",
    401: "Niet aangemeld",
    403: "Geen toegang",
    404: "Niet gevonden",
    405: "Methode niet toegestaan",
    409: "Conflict",
    413: "Te groot",
    422: "Geweigerd",
    429: "Te veel pogingen",
    500: "Interne fout",
    503: "Niet beschikbaar",
}
MESSAGES = {
    401: "U bent niet aangemeld; meld u aan of stuur een geldig API-token mee.",
    403: "Uw rol geeft geen toegang tot deze functie.",
    404: "Deze pagina of dit adres bestaat niet.",
    405: "Deze methode is hier niet toegestaan.",
    500: (
        "Er ging iets mis aan onze kant. Probeer het nog eens; blijft het misgaan, meld het "
        "dan bij de beheerder (met het tijdstip)."
    ),
}
CSRF_MESSAGE = (
    "Het formulier is verlopen of komt niet van deze site (CSRF-controle); "
    "laad de pagina opnieuw en probeer het nog eens."
)


class UploadTooLarge(InvalidInput):
    """An upload over the configured maximum: refused whole, never cut off."""

    http_status = 413


def problem(status: int, detail: str, request: Request | None = None, **extra: Any) -> JSONResponse:
    """A problem-details answer with a Dutch title and detail."""
    body = {
        "type": "about:blank",
        "title": TITLES.get(status, "Fout"),
        "status": status,
        "detail": detail,
    }
    if request is not None:
        body["instance"] = request.url.path
    return JSONResponse(body | extra, status_code=status, media_type=PROBLEM_TYPE)


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path.startswith("/openapi")


def install(app: Any) -> None:
    """Register the handlers that turn exceptions into problems or pages."""

    @app.exception_handler(IdflowError)
    async def _domain(request: Request, error: IdflowError) -> Response:
        return _answer(request, error.http_status, str(error))

    @app.exception_handler(NotSignedIn)
    async def _anonymous(request: Request, _: NotSignedIn) -> Response:
        if wants_json(request):
            return problem(401, MESSAGES[401], request)
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, _: Forbidden) -> Response:
        return _answer(request, 403, MESSAGES[403])

    @app.exception_handler(CsrfFailed)
    async def _csrf(request: Request, _: CsrfFailed) -> Response:
        return _answer(request, 403, CSRF_MESSAGE)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError) -> Response:
        return _answer(request, 422, request_errors(error.errors()))

    @app.exception_handler(HTTPException)
    async def _http(request: Request, error: HTTPException) -> Response:
        detail = error.detail if isinstance(error.detail, str) else ""
        return _answer(request, error.status_code, MESSAGES.get(error.status_code, detail))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> Response:
        # The exception text may hold SQL, paths or data: it goes to the log, not the answer.
        log.error(
            "Onverwachte fout bij %s %s",
            request.method,
            request.url.path,
            exc_info=(type(error), error, error.__traceback__),
        )
        answer = _answer(request, 500, MESSAGES[500])
        # Answered outside the middleware that adds them to every other answer.
        answer.headers.update(security_headers(request.app.state.settings))
        return answer


def _answer(request: Request, status: int, detail: str) -> Response:
    if wants_json(request):
        return problem(status, detail, request)
    templates = request.app.state.templates
    context = {"title": TITLES.get(status, "Fout"), "detail": detail, "status": status}
    try:
        return templates.TemplateResponse(request, "error.html", context, status_code=status)
    except Exception:  # the page itself failed: still a Dutch answer, never a traceback
        log.exception("De foutpagina kon niet worden gemaakt")
        text = f"{context['title']}: {detail}"
        return Response(text, status_code=status, media_type="text/plain; charset=utf-8")


def request_errors(errors: Any) -> str:
    """FastAPI's validation errors as one Dutch sentence per problem (the events' words)."""
    return "Ongeldig verzoek: " + "; ".join(dutch_problems(errors, "verzoek")) + "."
