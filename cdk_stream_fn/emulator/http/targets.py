"""The four forms of an HTTP/1.1 request-target (RFC 9112 §3.2), told apart without any I/O.

- origin-form `/path?query`: what clients send to an origin server;
- absolute-form `http://host/path?query`: what clients send to a proxy, which a server "MUST accept"
  (RFC 9112 §3.2.2); the path and query are those of the URI, and its authority replaces the Host
  header ("the server MUST ignore the received Host header field ... and instead use the host
  information of the request-target");
- authority-form `host:443`: only for CONNECT, which asks the server to become a tunnel;
- asterisk-form `*`: only for `OPTIONS *`, a question about the server as a whole.

The servers use this so that only a path ever reaches a function as `rawPath`, never `host:443` or `*`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from urllib.parse import urlsplit


class TargetForm(Enum):
    ORIGIN = "origin"
    ABSOLUTE = "absolute"
    AUTHORITY = "authority"
    ASTERISK = "asterisk"
    INVALID = "invalid"


# Not frozen: one is made for every request, and a frozen dataclass's `__init__` costs twice as much.
# Treat it as a value all the same.
@dataclass(slots=True)
class RequestTarget:
    """A parsed request-target: its form, and for origin and absolute forms the path and query."""

    form: TargetForm
    #: The path as sent (percent-encoding kept), always starting with "/" for origin and absolute forms.
    path: str = ""
    query: str = ""
    #: `host[:port]` from an absolute-form or authority-form target.
    authority: str | None = None

    @property
    def origin_form(self) -> str:
        """`path?query`, the origin-form of this target (for origin and absolute forms)."""
        return f"{self.path}?{self.query}" if self.query else self.path


def parse_target(method: str, target: str) -> RequestTarget:
    """Which form `target` takes, given the request's method (CONNECT alone uses the authority form)."""
    if method == "CONNECT":
        if target and "/" not in target and not target.startswith("*"):
            return RequestTarget(TargetForm.AUTHORITY, authority=target)
        return RequestTarget(TargetForm.INVALID)
    if target == "*":
        return (
            RequestTarget(TargetForm.ASTERISK) if method == "OPTIONS" else RequestTarget(TargetForm.INVALID)
        )
    if target.startswith("/"):
        path, _, query = target.partition("?")
        return RequestTarget(TargetForm.ORIGIN, path=path, query=query)
    scheme, separator, _ = target.partition("://")
    if separator and scheme.lower() in ("http", "https"):
        parts = urlsplit(target)
        if not parts.netloc or "@" in parts.netloc:
            return RequestTarget(TargetForm.INVALID)
        return RequestTarget(
            TargetForm.ABSOLUTE, path=parts.path or "/", query=parts.query, authority=parts.netloc
        )
    return RequestTarget(TargetForm.INVALID)
