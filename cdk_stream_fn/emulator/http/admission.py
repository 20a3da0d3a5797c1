"""Who may talk to the emulator's servers: the Host a request names, and whether a browser sent it.

The emulator runs functions with the developer's own AWS credentials, so a request it serves is a
request made with those credentials. Two checks keep other parties out, without any I/O:

- **Host.** A web page cannot choose the Host header, but through DNS rebinding it can make its own
  name (`attacker.example`) resolve to 127.0.0.1 and then read the answers as same-origin. Serving only
  requests that name this server (127.0.0.1, localhost, [::1], the address it listens on, or a name the
  developer added) defeats that. AWS's front end does the same: a function URL refuses a Host that is
  not its own name (aws/aws-cdk#20090, where CloudFront forwarding the viewer's Host was refused).
  HTTP/1.1 requires exactly one Host (RFC 9112 §3.2: "A server MUST respond with a 400 (Bad Request)
  status code to any HTTP/1.1 request message that lacks a Host header field and to any request message
  that contains more than one Host header field line").
- **Browser origin.** Browsers mark what they send: `Origin` on every cross-origin request that is not
  a plain GET (even a "simple" `text/plain` POST, which needs no CORS preflight), and `Sec-Fetch-Site`
  (`cross-site`, `same-site`, `same-origin`, `none`) on everything in current browsers (Fetch Metadata,
  https://www.w3.org/TR/fetch-metadata/). SDKs and curl send neither.

A refusal is a value (`Refusal`); each server renders it in its own error shape.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

#: The names every loopback server answers to, whatever address it listens on.
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
#: Addresses that mean "every interface" when listened on.
_UNSPECIFIED = frozenset({"0.0.0.0", "::", ""})
#: Accepted Host values remembered per listener (spellings differ only in case and port form).
_MAX_REMEMBERED = 64
#: `Sec-Fetch-Site` values of a request that another site's page made.
CROSS_SITE_FETCHES = frozenset({"cross-site", "same-site"})

Headers = Sequence[tuple[bytes, bytes]]


@dataclass(frozen=True)
class Refusal:
    """Why a request is refused: the status, a short code (the error type), a message that says what
    was wrong and how to change it, and a `detail` for the developer where the message is AWS's own."""

    status: int
    code: str
    message: str
    detail: str = ""


def is_loopback(host: str) -> bool:
    """Whether listening on `host` keeps a server on this machine (127.0.0.0/8, ::1, localhost)."""
    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def split_host(value: str) -> tuple[str, int | None] | None:
    """`host[:port]` as (lower-case name, port or None); None if it is not a valid Host value.

    An IPv6 address keeps its brackets (`[::1]`), as it appears in a URL.
    """
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        name, rest = value[: end + 1], value[end + 1 :]
        if rest and not rest.startswith(":"):
            return None
        port_text = rest[1:] if rest else None
    else:
        name, separator, port_text_or_empty = value.partition(":")
        port_text = port_text_or_empty if separator else None
    if not name or any(c in name for c in "/@?# \t\\"):
        return None
    if port_text is None:
        return name, None
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        return None
    return name, int(port_text)


def _canonical(name: str) -> str:
    """A name to compare: IP literals in one spelling (`[::1]` and `[0:0::1]` are the same)."""
    try:
        address = ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return name.lower().rstrip(".") or name
    return f"[{address.compressed}]" if address.version == 6 else address.compressed


class HostCheck:
    """The Host names one listener answers to: the loopback names, the address it listens on (unless
    that is every interface), and `extra_names` the developer added (`serve --allow-host`)."""

    def __init__(self, listen_host: str, port: int, extra_names: Iterable[str] = ()) -> None:
        self.port = port
        names = list(LOOPBACK_NAMES)
        listen = listen_host.strip("[]")
        if listen not in _UNSPECIFIED:
            names.append(f"[{listen}]" if ":" in listen else listen)
        names += extra_names
        self.names = tuple(dict.fromkeys(_canonical(name) for name in names))
        #: Host values already accepted, as sent: the common case costs one set lookup. Only accepted
        #: values are kept, and at most `_MAX_REMEMBERED` of them.
        self._accepted: set[bytes] = set()

    def remembers(self, host: bytes) -> bool:
        """Whether `host`, a Host header's value as sent, was accepted before (one set lookup)."""
        return host in self._accepted

    def refusal(self, headers: Headers, http_version: str, *, authority: str | None = None) -> Refusal | None:
        """Why this request may not be served here, or None if its Host is one of ours.

        `authority` is the host of an absolute-form target, which takes the Host header's place.
        """
        values = [value for name, value in headers if name == b"host"]
        if authority is None:
            if len(values) == 1 and values[0] in self._accepted:
                return None
            if len(values) > 1:
                return Refusal(400, "BadRequest", "the request has more than one Host header")
            if not values:
                if http_version == "1.0":
                    return None
                return Refusal(400, "BadRequest", "an HTTP/1.1 request must carry a Host header")
            host = values[0].decode("latin-1")
        else:
            host = authority
        parsed = split_host(host)
        if parsed is not None:
            name, port = parsed
            if _canonical(name) in self.names and port in (None, self.port):
                if authority is None and len(self._accepted) < _MAX_REMEMBERED:
                    self._accepted.add(values[0])
                return None
        return Refusal(421, "MisdirectedRequest", self._explain(host))

    def _explain(self, host: str) -> str:
        known = ", ".join(self.names)
        return (
            f"Host {host!r} is not a name of this server (it answers to {known}, port {self.port}). "
            "The emulator refuses other names so that a web page cannot reach your functions, which run "
            "with your AWS credentials, by pointing a name it controls at this machine (DNS rebinding). "
            "To accept another name, start `cdk-stream-fn serve` with --allow-host NAME."
        )


def browser_site(headers: Headers) -> str | None:
    """How a browser marked this request: `Origin: <value>` or `Sec-Fetch-Site: <value>` for a request
    that another page (or site) made, or None for a request no browser page made."""
    return cross_origin(headers, None)


def cross_origin(headers: Headers, own_origin: str | None) -> str | None:
    """Like `browser_site`, but a page of `own_origin` (`http://host:port`) calling its own server passes."""
    own = None if own_origin is None else own_origin.lower()
    for name, value in headers:
        if name == b"origin" and value.decode("latin-1").strip().lower() != own:
            return f"Origin: {value.decode('latin-1')}"
    for name, value in headers:
        if name == b"sec-fetch-site" and value.decode("latin-1").strip().lower() in CROSS_SITE_FETCHES:
            return f"Sec-Fetch-Site: {value.decode('latin-1')}"
    return None


#: The headers by which a browser marks a request a page made (see `cross_origin`).
_BROWSER_MARKS = frozenset({b"origin", b"sec-fetch-site"})


def foreign_caller(hosts: HostCheck, headers: Headers, http_version: str) -> Refusal | None:
    """For a server only local programs call (the Runtime API): a Host not of `hosts`, or any browser page."""
    # The Runtime API sees two requests per invocation: its common case (one Host already accepted, no
    # browser marks) is decided in one pass over the headers.
    host_count, host, marked = 0, b"", False
    for name, value in headers:
        if name == b"host":
            host_count += 1
            host = value
        elif name in _BROWSER_MARKS:
            marked = True
    if host_count == 1 and not marked and hosts.remembers(host):
        return None
    refusal = hosts.refusal(headers, http_version)
    if refusal is not None:
        return refusal
    browser = browser_site(headers)
    if browser is not None:
        return Refusal(403, "AccessDenied", f"browser pages may not call this server ({browser})")
    return None
