"""The exceptions a response stream raises when it is misused or cannot go on.

All of them derive from :class:`ResponseStreamError`, so ``except ResponseStreamError`` catches every
stream problem; each message says what to do instead.
"""

from __future__ import annotations


class ResponseStreamError(Exception):
    """Base class of every error raised by a response stream."""


class StreamEndedError(ResponseStreamError, ValueError):
    """A write, flush or change on a stream that has already ended.

    Also a ``ValueError``, which is what Python's own file objects raise on a closed file, so code
    written for files (``io.TextIOWrapper``, ``gzip``, ``csv``) reacts to it as it expects.
    """


class ContentTypeTooLateError(ResponseStreamError):
    """The content type or the HTTP prelude was changed after the response had started."""


class PreludeAlreadySetError(ResponseStreamError):
    """``HttpResponseStream.from_`` was called on a stream that already has its HTTP prelude."""


class InvalidMetadataError(ResponseStreamError, ValueError):
    """A content type, status code, header or cookie that cannot be sent as given."""


class StreamConnectionError(ResponseStreamError, ConnectionError):
    """The connection to the Lambda Runtime API broke, so the rest of the response cannot be delivered."""


class InvalidEventError(ResponseStreamError, ValueError):
    """A server-sent event field (data, event name, id, retry, comment) that cannot be sent as given."""
