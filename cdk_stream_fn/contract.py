"""What the construct and the local tools share, in one module that imports nothing.

The construct writes these into the cloud assembly and the emulator reads them back; the CLI restates the
emulator's defaults in its help without importing the emulator (which loads asyncio). See
docs/architecture.md, "Contracts".

**Megabytes.** Lambda's documents say "MB" for its limits ("6 MB" synchronous payloads, "200 MB" streamed
responses), and Lambda counts them in units of 2^20 bytes: a request over the limit is refused with
"... is too large for the RequestResponse invocation type (limit 6291456 bytes)", 6 x 2^20, and RAPID's
`MaxPayloadSize` for a buffered response is 6 x 2^20 + 100 bytes (6291556,
aws/aws-lambda-runtime-interface-emulator `internal/lambda/interop/model.go`). So every megabyte in this
project, in the construct's thresholds as in the emulator's limits, is :data:`MB` = 2^20 bytes.
"""

from __future__ import annotations

from typing import Final

MB: Final = 1024 * 1024
"""One megabyte as Lambda counts its limits: 2^20 bytes (see the module's docstring)."""

METADATA_KEY: Final = "cdk-stream-fn"
"""Resource metadata key on each function a StreamingFunction makes; `cdk-stream-fn serve` finds functions by it."""
METADATA_VERSION: Final = 2
"""The version of the metadata document the construct writes. Version 2 added `entry` (the function's
source directory, relative to the assembly directory), so `serve` runs the code from its source with
dependencies installed for the local interpreter; version 1 named only the code asset."""
READABLE_METADATA_VERSIONS: Final = frozenset({1, 2})
"""The metadata versions `serve` reads (a version 1 function is served from its code asset)."""

CODE_EXCLUDED_PATTERNS: Final = (
    "__pycache__",
    "*.pyc",
    ".venv",
    "venv",
    "cdk.out",
    ".git",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    "node_modules",
    ".DS_Store",
)
"""What is left out of a function's code, in the asset the construct bundles and in the copy `serve` runs:
byte code, virtual environments, cloud assemblies, tool caches (names or `fnmatch` patterns, any depth)."""

WRAPPER_NAME: Final = "stream-fn"
"""The runtime's exec wrapper at the root of the layer the construct stages (`stream_fn/wrapper.sh`)."""
EXEC_WRAPPER_PATH: Final = f"/opt/{WRAPPER_NAME}"
"""Where Lambda (and a platform root) finds it: the function's `AWS_LAMBDA_EXEC_WRAPPER`."""

STREAMED_RESPONSE_LIMIT_MB: Final = 200
"""Lambda's cap on one streamed response, in :data:`MB` (raised from 20 MB in July 2025)."""

DEFAULT_TIMEOUT_SECONDS: Final = 3
"""`AWS::Lambda::Function` Timeout when a template leaves it out (and `serve --handler`'s default)."""
DEFAULT_MEMORY_MB: Final = 128
"""`AWS::Lambda::Function` MemorySize when a template leaves it out (and `serve --handler`'s default)."""

DEFAULT_URL_PORT: Final = 9000
"""The first port `serve` gives a function URL."""
DEFAULT_API_PORT: Final = 3001
"""The port of the Lambda API under `serve` (the one `sam local start-lambda` uses for the same job)."""
DEFAULT_MAX_SANDBOXES: Final = 4
"""Runtime processes per function at most under `serve` (`--max-concurrency`)."""

STREAM_METRICS_VARIABLE: Final = "STREAM_FN_METRICS"
"""The function environment variable that makes the runtime write a metrics record per streamed invocation."""
STREAM_METRICS_EMF: Final = "emf"
"""Its value: CloudWatch embedded metric format records on stdout (`stream_fn.stream_metrics`)."""
STREAM_METRICS_NAMESPACE: Final = "CdkStreamFn"
"""The CloudWatch namespace of those records' metrics."""
STREAM_METRICS_DIMENSION: Final = "FunctionName"
"""Their one dimension, the function's name (as in `AWS/Lambda`)."""
STREAM_METRIC_NAMES: Final = (
    "TimeToFirstByte",
    "StreamDuration",
    "BodyBytes",
    "StreamedBytes",
    "ErrorsAfterFirstByte",
)
"""The metrics of each record, in the order the runtime writes them (`stream_fn.stream_metrics`)."""
