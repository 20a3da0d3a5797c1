"""cdk-stream-fn: stream HTTP responses from Python on AWS Lambda.

The construct and its props load lazily (PEP 562), so `import cdk_stream_fn.cli` never imports aws_cdk.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .construct.options import ApiGatewayOptions, CloudFrontOptions
    from .construct.streaming_function import BundlingError, StreamingFunction

__all__ = ["ApiGatewayOptions", "BundlingError", "CloudFrontOptions", "StreamingFunction"]

_LAZY_EXPORTS = {
    "StreamingFunction": ".construct.streaming_function",
    "BundlingError": ".construct.streaming_function",
    "CloudFrontOptions": ".construct.options",
    "ApiGatewayOptions": ".construct.options",
}


def __getattr__(name: str) -> Any:
    module = _LAZY_EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
