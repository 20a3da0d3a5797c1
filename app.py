#!/usr/bin/env python3
"""The example CDK app: a clock that ticks as server-sent events, a Starlette app that streams them, and
a FastAPI chat whose pydantic models need a compiled dependency (pydantic-core).

`cdk synth` (or `python app.py`) synthesizes it without AWS credentials: the stack is
environment-agnostic. `cdk-stream-fn serve` runs it locally; `cdk deploy` ships it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
from constructs import Construct

from cdk_stream_fn import StreamingFunction

FUNCTIONS = Path(__file__).resolve().parent / "functions"
STACK_NAME = "CdkStreamFnExample"


class ExampleStack(cdk.Stack):
    """Streaming function URLs behind AWS_IAM auth (sign requests, or grant_invoke_url a role)."""

    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.clock = StreamingFunction(
            self,
            "Clock",
            entry=str(FUNCTIONS / "clock"),
            handler="index.handler",
            timeout=cdk.Duration.minutes(1),
            description="Streams a server-sent event every second (cdk-stream-fn example)",
        )
        self.events = StreamingFunction(
            self,
            "Events",
            entry=str(FUNCTIONS / "events"),
            handler="app.handler",
            timeout=cdk.Duration.minutes(2),
            description="A Starlette app streaming server-sent events in process (cdk-stream-fn example)",
        )
        self.chat = StreamingFunction(
            self,
            "Chat",
            entry=str(FUNCTIONS / "chat"),
            handler="main.handler",
            timeout=cdk.Duration.minutes(2),
            description="A FastAPI chat streaming tokens as server-sent events (cdk-stream-fn example)",
        )


def main() -> None:
    app = cdk.App()
    ExampleStack(app, STACK_NAME, description="cdk-stream-fn example: a streaming Python function URL")
    app.synth()


if __name__ == "__main__":
    main()
