"""The Lambda service limits and wire constants the emulator enforces, each with its source.

Sizes follow RAPID (aws/aws-lambda-runtime-interface-emulator, `lambda/interop/model.go`); a megabyte is
2^20 bytes throughout, as Lambda counts its limits (`cdk_stream_fn.contract`).
"""

from __future__ import annotations

from typing import Final

from cdk_stream_fn.contract import (
    DEFAULT_MEMORY_MB,
    DEFAULT_TIMEOUT_SECONDS,
    STREAMED_RESPONSE_LIMIT_MB,
)
from cdk_stream_fn.contract import MB as MIB

__all__ = ["DEFAULT_MEMORY_MB", "DEFAULT_TIMEOUT_SECONDS"]

#: Largest buffered response a runtime may POST: RAPID's `MaxPayloadSize` (6 MiB + 100 bytes). Above it
#: the Runtime API answers 413 `{"errorType": "RequestEntityTooLarge", ...}` and the caller gets
#: `Function.ResponseSizeTooLarge`.
MAX_BUFFERED_RESPONSE_BYTES: Final = 6 * MIB + 100

#: Largest streamed response (the documented 200 MB, raised from 20 MB in July 2025). The stream is cut
#: there and reported as `Function.ResponseSizeTooLarge`.
MAX_STREAMED_RESPONSE_BYTES: Final = STREAMED_RESPONSE_LIMIT_MB * MIB

#: Largest synchronous request payload: "N byte payload is too large for the RequestResponse invocation
#: type (limit 6291456 bytes)" is Lambda's own message. For a function URL it bounds the built event.
MAX_REQUEST_PAYLOAD_BYTES: Final = 6 * MIB

#: Response shaping as RAPID does it (`ResponseBandwidthBurstSize`, `ResponseBandwidthRate`): the first
#: 6 MiB at full speed, then 2 MiB/s. Off unless asked for (`--shape-bandwidth`).
SHAPING_BURST_BYTES: Final = 6 * MIB
SHAPING_RATE_BYTES_PER_SECOND: Final = 2 * MIB

#: The JSON prelude of an HTTP integration response must end (8 NUL bytes) within this many bytes, so a
#: runtime that forgets the delimiter cannot make the emulator buffer its whole body.
MAX_PRELUDE_BYTES: Final = 16 * 1024

#: Lambda's init phase limit (10 s for on-demand functions).
INIT_TIMEOUT_SECONDS: Final = 10.0

#: SnapStart: the init that ends in the snapshot (handler import, before-snapshot hooks) "can run for up
#: to 15 minutes. The time limit is 130 seconds or the configured function timeout (maximum 900 seconds),
#: whichever is higher." (AWS Lambda Developer Guide, "Lambda SnapStart runtime hooks for Python").
SNAPSHOT_INIT_TIMEOUT_SECONDS: Final = 130.0

#: SnapStart: from the restore until the runtime asks for its first event (its after-restore hooks): "the
#: runtime must load and `@register_after_restore` runtime hooks must complete within the timeout limit
#: (10 seconds). Otherwise, you'll get a SnapStartTimeoutException." (same page). RAPID waits for that
#: `/next` until the restore's deadline and then fails the restore with `Runtime.RestoreHookUserTimeout`
#: (`rapid/handlers.go` `handleRestore`, `core/flow.go` `AwaitRuntimeReadyWithDeadline`).
RESTORE_TIMEOUT_SECONDS: Final = 10.0

#: The init phase of a Lambda Managed Instances environment may last the longer of this and the function's
#: timeout: "For Lambda Managed Instances functions, initialization can take up to 15 minutes. The timeout is
#: the maximum of 130 seconds or the configured function timeout (up to 900 seconds)" (AWS Lambda Developer
#: Guide, "Understanding the Lambda Managed Instances execution environment", Init phase).
MANAGED_INSTANCES_MIN_INIT_TIMEOUT_SECONDS: Final = 130.0

#: Bytes read from a socket at a time: large enough that a 200 MB stream costs few Python iterations,
#: small enough that a chunk is forwarded the moment it arrives.
READ_SIZE: Final = 256 * 1024

#: Largest request line plus headers of one request; more is answered 431. Go net/http's
#: `DefaultMaxHeaderBytes`, which RAPID (a Go net/http server) runs with.
MAX_HEADER_BYTES: Final = 1 * MIB

#: Largest trailer section after a chunked body, counted as framed: every field line with its CRLF, and
#: the final CRLF. Go's net/http reads a trailer section only within its connection's 4 KiB bufio buffer
#: (`net/http/transfer.go`, `body.readTrailer` and `seeUpcomingDoubleCRLF`: "This limits the trailer to
#: the underlying buffer size, typically 4kB"; more is "http: suspiciously long trailer after chunked
#: body"). RAPID, a Go net/http server, then answers the response 400 `TruncatedHTTPRequest`, the caller
#: gets `Runtime.TruncatedResponse`, and the connection is dropped (measured against RAPID: 4,095 bytes
#: accepted, 4,099 refused). A streamed error's base64 body in trailers must fit in it.
MAX_TRAILER_BYTES: Final = 4096

#: Body bytes held between the runtime's socket and the client's: the bound on the emulator's memory
#: per stream (plus one chunk), and what makes backpressure reach the runtime.
PIPE_BYTES: Final = 4 * READ_SIZE

#: Content type of a function-URL style response: JSON prelude, 8 NUL bytes, body.
HTTP_INTEGRATION_CONTENT_TYPE: Final = "application/vnd.awslambda.http-integration-response"
PRELUDE_DELIMITER: Final = b"\0" * 8

#: The emulated account, as in AWS's documentation examples.
ACCOUNT_ID: Final = "123456789012"
FUNCTION_VERSION: Final = "$LATEST"
