"""The errors the emulator reports in Lambda's name: types, message shapes and JSON documents."""

from __future__ import annotations

import json
import signal

import pytest

from cdk_stream_fn.emulator import platform_errors


@pytest.mark.parametrize(
    ("returncode", "detail"),
    [
        (3, "Runtime exited with error: exit status 3"),
        (0, "Runtime exited without providing a reason"),
        (-signal.SIGKILL, "Runtime exited with error: signal: killed"),
        (-signal.SIGSEGV, "Runtime exited with error: signal: segmentation fault"),
    ],
)
def test_a_runtime_exit_reads_as_rapid_words_it(returncode: int, detail: str) -> None:
    error = platform_errors.exit_error("req-1", returncode)

    assert error.error_type == "Runtime.ExitError"
    assert error.message == f"RequestId: req-1 Error: {detail}"
    assert json.loads(error.payload) == {"errorMessage": error.message, "errorType": "Runtime.ExitError"}


def test_a_response_too_large_names_its_size_when_the_runtime_api_measured_it() -> None:
    measured = platform_errors.response_too_large(6291556, 7000000)
    front_door = platform_errors.response_too_large(6291556)

    assert measured.message == (
        "Response payload size (7000000 bytes) exceeded maximum allowed payload size (6291556 bytes)."
    )
    assert (
        front_door.message == "Response payload size exceeded maximum allowed payload size (6291556 bytes)."
    )
    assert measured.error_type == front_door.error_type == "Function.ResponseSizeTooLarge"


def test_a_timeout_names_the_limit_that_applied() -> None:
    error = platform_errors.timed_out("req-1", 5)

    assert (error.error_type, error.message) == (
        "Sandbox.Timedout",
        "RequestId: req-1 Error: Task timed out after 5.00 seconds",
    )
