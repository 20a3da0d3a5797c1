"""Incremental decoding of an HTTP integration response: JSON prelude, 8 NUL bytes, then the body.

The prelude may arrive split across any number of chunks (or share a chunk with the first body
bytes); the decoder buffers at most `MAX_PRELUDE_BYTES` and names exactly what is wrong when the
prelude is malformed, so a function URL can answer 502 with a useful log line instead of hanging.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import NoReturn

from cdk_stream_fn.emulator import limits
from cdk_stream_fn.emulator.http.framing import is_token, value_problem


class PreludeError(ValueError):
    """The runtime's prelude cannot become an HTTP response head."""


@dataclass(frozen=True)
class Prelude:
    """The response head a function asked for."""

    status_code: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    cookies: list[str] = field(default_factory=list)


class PreludeDecoder:
    """Feed body chunks until `feed` returns the prelude and whatever body bytes followed it."""

    def __init__(self, max_bytes: int = limits.MAX_PRELUDE_BYTES) -> None:
        self._buffer = bytearray()
        self._max_bytes = max_bytes

    def feed(self, data: bytes) -> tuple[Prelude, bytes] | None:
        """Add a chunk; return `(prelude, rest of the chunk)` once the delimiter has arrived."""
        searched_up_to = max(0, len(self._buffer) - len(limits.PRELUDE_DELIMITER) + 1)
        self._buffer += data
        end = self._buffer.find(limits.PRELUDE_DELIMITER, searched_up_to)
        if end < 0:
            if len(self._buffer) > self._max_bytes:
                raise PreludeError(
                    f"no 8-byte NUL delimiter within the first {self._max_bytes} bytes of an "
                    f"{limits.HTTP_INTEGRATION_CONTENT_TYPE} response (the runtime must send the JSON "
                    "prelude, then 8 NUL bytes, then the body)"
                )
            return None
        if end > self._max_bytes:
            raise PreludeError(f"the JSON prelude is {end} bytes; at most {self._max_bytes} are allowed")
        prelude = parse_prelude(bytes(self._buffer[:end]))
        rest = bytes(self._buffer[end + len(limits.PRELUDE_DELIMITER) :])
        self._buffer.clear()
        return prelude, rest

    def finish(self) -> NoReturn:
        """The stream ended before the delimiter came: raise the `PreludeError` that says so."""
        raise PreludeError(
            f"the response ended after {len(self._buffer)} bytes without the 8-byte NUL delimiter that "
            "must follow the JSON prelude"
        )


def parse_prelude(raw: bytes) -> Prelude:
    """Validate a JSON prelude (`statusCode`, `headers`, `multiValueHeaders`, `cookies`), all problems at once."""
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise PreludeError(f"the prelude is not valid JSON ({error}): {raw[:200]!r}") from None
    if not isinstance(document, dict):
        raise PreludeError(f"the prelude must be a JSON object, got {type(document).__name__}")

    problems: list[str] = []
    status = document.get("statusCode", 200)
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        problems.append(f"statusCode must be an integer from 200 to 599, got {status!r}")
        status = 200
    elif status < 200:
        problems.append(
            f"statusCode {status} is an interim (1xx) status, which a function URL cannot send; "
            "give a final status from 200 to 599"
        )
        status = 200

    headers: list[tuple[str, str]] = []
    single = document.get("headers", {})
    if single is None:
        single = {}
    if not isinstance(single, dict):
        problems.append(f"headers must be an object of strings, got {type(single).__name__}")
        single = {}
    for name, value in single.items():
        if not isinstance(value, str):
            problems.append(f"header {name!r} must be a string, got {type(value).__name__} {value!r}")
            continue
        headers.append((name, value))

    multi = document.get("multiValueHeaders", {})
    if multi is None:
        multi = {}
    if not isinstance(multi, dict):
        problems.append(f"multiValueHeaders must be an object of string lists, got {type(multi).__name__}")
        multi = {}
    for name, values in multi.items():
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            problems.append(f"multiValueHeaders[{name!r}] must be a list of strings, got {values!r}")
            continue
        headers.extend((name, value) for value in values)

    cookies = document.get("cookies", [])
    if cookies is None:
        cookies = []
    if not isinstance(cookies, list) or not all(isinstance(c, str) for c in cookies):
        problems.append(f"cookies must be a list of strings, got {cookies!r}")
        cookies = []

    for name, value in headers:
        if not is_token(name):
            problems.append(f"header name {name!r} is not a valid HTTP token")
        if (problem := value_problem(value)) is not None:
            problems.append(f"header {name!r} {problem}")
    for cookie in cookies:
        if (problem := value_problem(cookie)) is not None:
            problems.append(f"cookie {cookie[:40]!r} {problem}")

    if problems:
        raise PreludeError("invalid prelude: " + "; ".join(problems))
    return Prelude(status, headers, list(cookies))
