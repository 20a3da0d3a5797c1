"""A function URL's CORS configuration applied to requests and responses, as Lambda does, without I/O.

What AWS documents ("Creating and managing Lambda function URLs", section "Cross-origin resource
sharing (CORS)", awsdocs/aws-lambda-developer-guide `doc_source/urls-configuration.md`): the URL's
`Cors` settings map to `Access-Control-Allow-Origin` (AllowOrigins), `-Allow-Methods` (AllowMethods),
`-Allow-Headers` (AllowHeaders), `-Expose-Headers` (ExposeHeaders), `-Allow-Credentials`
(AllowCredentials) and `-Max-Age` (MaxAge); "Lambda automatically adds the CORS headers to all responses
through the function URL", and "if there are conflicting headers, the configured CORS headers on the
function URL take precedence". That the URL answers a browser's preflight `OPTIONS` itself when CORS
is configured (the function never sees it), and passes `OPTIONS` to the function when it is not, is
what users describe (e.g. "Lambda Function URLs have a built-in CORS configuration that handles
preflight (OPTIONS) requests automatically", oneuptime.com, "How to Fix Lambda Function URL CORS
Issues", 2026), not something AWS's pages state. One user saw both the URL's and the function's
`Access-Control-Allow-Origin` on a response (hummingbird-project/hummingbird-examples#130); the emulator
follows the documented precedence instead.

What AWS does not document, and what the emulator chooses (the answers browsers accept):
- a preflight is answered `200` with an empty body; for an origin outside AllowOrigins it carries no
  CORS headers, so the browser stops there;
- `Access-Control-Allow-Origin` is `*` when AllowOrigins has `*` and credentials are not allowed, and
  otherwise the request's own origin (with `Vary: Origin`); with credentials allowed, a `*` in
  AllowMethods or AllowHeaders is answered with what the preflight asked for, since browsers read `*`
  literally then (Fetch standard, "CORS-preflight fetch");
- responses to requests without `Origin` (curl, SDKs) get no CORS headers.
"""

from __future__ import annotations

from collections.abc import Sequence

from cdk_stream_fn.emulator.sandboxes.config import CorsSettings

Headers = Sequence[tuple[bytes, bytes]]
Fields = list[tuple[str, str]]

_CORS_PREFIX = "access-control-"


def header(headers: Headers, name: bytes) -> str | None:
    """The first value of header `name` (lower-case), decoded as Latin-1."""
    for key, value in headers:
        if key == name:
            return value.decode("latin-1")
    return None


def is_preflight(method: str, headers: Headers) -> bool:
    """A browser's CORS preflight: `OPTIONS` with `Origin` and `Access-Control-Request-Method`."""
    return (
        method == "OPTIONS"
        and header(headers, b"origin") is not None
        and header(headers, b"access-control-request-method") is not None
    )


def origin_allowed(settings: CorsSettings, origin: str) -> bool:
    """Whether AllowOrigins lets `origin` in (`*`, or the same scheme, host and port)."""
    wanted = origin.strip().lower().rstrip("/")
    return any(
        allowed == "*" or allowed.strip().lower().rstrip("/") == wanted for allowed in settings.allow_origins
    )


def names_origin(settings: CorsSettings, origin: str) -> bool:
    """Whether AllowOrigins names `origin` itself (not through `*`): an origin the developer trusts."""
    wanted = origin.strip().lower().rstrip("/")
    return any(allowed.strip().lower().rstrip("/") == wanted for allowed in settings.allow_origins)


def preflight_headers(settings: CorsSettings, headers: Headers) -> Fields:
    """The CORS headers of the answer to a preflight (none for an origin AllowOrigins leaves out)."""
    origin = header(headers, b"origin") or ""
    if not origin_allowed(settings, origin):
        return []
    fields = _origin_fields(settings, origin)
    requested_method = (header(headers, b"access-control-request-method") or "").strip()
    requested_headers = (header(headers, b"access-control-request-headers") or "").strip()
    methods = _listed(settings.allow_methods, requested_method, settings.allow_credentials)
    if methods:
        fields.append(("access-control-allow-methods", methods))
    allowed_headers = _listed(settings.allow_headers, requested_headers, settings.allow_credentials)
    if allowed_headers:
        fields.append(("access-control-allow-headers", allowed_headers))
    if settings.max_age is not None:
        fields.append(("access-control-max-age", str(settings.max_age)))
    return fields


def response_headers(settings: CorsSettings, headers: Headers) -> Fields:
    """The CORS headers added to an actual response (none without `Origin`, or for an origin left out)."""
    origin = header(headers, b"origin")
    if origin is None or not origin_allowed(settings, origin):
        return []
    fields = _origin_fields(settings, origin)
    if settings.expose_headers:
        fields.append(("access-control-expose-headers", ", ".join(settings.expose_headers)))
    return fields


def apply(function_headers: Fields, cors_headers: Fields) -> Fields:
    """The function's headers with the URL's CORS headers in place of any the function set itself."""
    if not cors_headers:
        return function_headers
    replaced = {name for name, _ in cors_headers if name.startswith(_CORS_PREFIX)}
    kept = [(name, value) for name, value in function_headers if name.lower() not in replaced]
    return kept + cors_headers


def _origin_fields(settings: CorsSettings, origin: str) -> Fields:
    if "*" in settings.allow_origins and not settings.allow_credentials:
        return [("access-control-allow-origin", "*")]
    fields = [("access-control-allow-origin", origin.strip()), ("vary", "Origin")]
    if settings.allow_credentials:
        fields.append(("access-control-allow-credentials", "true"))
    return fields


def _listed(configured: tuple[str, ...], requested: str, credentials: bool) -> str:
    """A configured list as a header value; `*` echoes what was requested when credentials are allowed."""
    if "*" in configured and credentials:
        return requested
    return ", ".join(configured)
