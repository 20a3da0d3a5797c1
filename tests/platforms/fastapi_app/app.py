"""One StreamingFunction per platform of the tier, all on the same FastAPI code: each asset is bundled
by the construct for its own runtime and architecture (pydantic-core for that interpreter and machine)."""

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_

from cdk_stream_fn import StreamingFunction

FUNCTION = Path(__file__).resolve().parent / "function"
PLATFORMS = {
    "Py313X86": (lambda_.Runtime.PYTHON_3_13, lambda_.Architecture.X86_64),
    "Py314X86": (lambda_.Runtime.PYTHON_3_14, lambda_.Architecture.X86_64),
    "Py314Arm": (lambda_.Runtime.PYTHON_3_14, lambda_.Architecture.ARM_64),
}

app = cdk.App()
stack = cdk.Stack(app, "PlatformFastApi")
for construct_id, (runtime, architecture) in PLATFORMS.items():
    StreamingFunction(
        stack,
        construct_id,
        entry=str(FUNCTION),
        handler="main.handler",
        runtime=runtime,
        architecture=architecture,
        timeout=cdk.Duration.minutes(1),
    )
app.synth()
