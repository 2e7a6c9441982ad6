"""What every answer and every request body passes: security headers and a size limit.

Both are plain ASGI middleware, so they cover pages, the JSON API, downloads, static files
and error answers alike.
"""

from typing import Any
from urllib.parse import urlsplit

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from procedures.access import sign_in_methods

# No inline script or style anywhere: the pages use /static only, and the SVG charts of the
# HTML report are a download, opened from disk. Forms post to this site only; with sign-in
# through the identity provider, the sign-out form's redirect to the provider is let through.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'{provider}; base-uri 'none'; "
    "frame-ancestors 'none'"
)
HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]
# Not includeSubDomains: other sites under the municipality's domain are not ours to decide.
HSTS = (b"strict-transport-security", b"max-age=31536000")


def header_pairs(settings: Any) -> list[tuple[bytes, bytes]]:
    """The headers every answer carries, from the settings (HSTS, the provider's origin)."""
    provider = ""
    if "oidc" in sign_in_methods(settings.auth) and settings.oidc_issuer:
        parts = urlsplit(settings.oidc_issuer)
        provider = f" {parts.scheme}://{parts.netloc}"
    csp = (b"content-security-policy", CSP.format(provider=provider).encode())
    return [csp, *HEADERS] + ([HSTS] if settings.cookie_secure else [])


def security_headers(settings: Any) -> dict[str, str]:
    """The headers every answer carries, for the few answers made outside the middleware."""
    return {name.decode(): value.decode() for name, value in header_pairs(settings)}


class SecurityHeaders:
    """Adds the security headers (and HSTS when cookies are HTTPS-only) to every answer."""

    def __init__(self, app: ASGIApp, settings: Any) -> None:
        self.app = app
        self.headers = header_pairs(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(n, v) for n, v in self.headers if n not in names]
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        await self.app(scope, receive, with_headers)


class BodyTooLarge(HTTPException):
    """A request body over its limit: refused before (or as soon as) it is read."""

    def __init__(self, limit: int, upload: bool) -> None:
        what = "Het bestand" if upload else "Het verzoek"
        hint = " Grote bestanden: 'idflow import' of 'idflow org load'." if upload else ""
        super().__init__(
            413, f"{what} is te groot (hoogstens {limit} bytes); er is niets verwerkt.{hint}"
        )


class BodyLimit:
    """Refuses request bodies over the limit with 413: uploads (multipart) up to the upload
    limit plus room for the form around the file, every other body (JSON, forms) up to the
    request limit (both from the app's settings).

    A declared Content-Length over the limit is refused when the app first reads the body;
    a body sent without one is counted as it arrives and refused once it passes the limit."""

    MULTIPART_SLACK = 64 * 1024

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        settings = scope["app"].state.settings
        headers = dict(scope.get("headers") or [])
        upload = headers.get(b"content-type", b"").startswith(b"multipart/form-data")
        shown = settings.upload_max_bytes if upload else settings.request_max_bytes
        limit = shown + self.MULTIPART_SLACK if upload else shown
        declared = _length(headers.get(b"content-length"))
        received = 0

        async def counted() -> Message:
            nonlocal received
            if declared is not None and declared > limit:
                raise BodyTooLarge(shown, upload)
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge(shown, upload)
            return message

        await self.app(scope, counted, send)


def _length(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
