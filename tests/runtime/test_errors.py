"""Every error path: handler exceptions before and after the first byte, init errors, and a misbehaving Runtime API."""

from __future__ import annotations

import base64
import json
import pathlib
import textwrap

import pytest

from .conftest import StartRuntime
from .fake_runtime_api import API, FakeRuntimeApi

pytestmark = pytest.mark.timeout(60)


def decoded_error_body(trailer: str | None) -> dict[str, object]:
    assert trailer is not None
    return json.loads(base64.b64decode(trailer, validate=True))  # type: ignore[no-any-return]


def test_an_exception_before_any_byte_is_reported_through_the_error_endpoint(
    fake_api: FakeRuntimeApi, start_runtime: StartRuntime
) -> None:
    start_runtime("steps.streamed")
    result = fake_api.invoke(
        {"steps": [["content_type", "text/plain"], ["raise", "ValueError", "bad input"]]}
    )

    assert result.target.endswith("/error")
    assert result.header("content-type") == "application/json"
    assert result.header("lambda-runtime-function-error-type") == "Function.ValueError"
    error = result.json()
    assert isinstance(error, dict)
    request_id = result.target.split("/")[-2]
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "bad input"
    assert error["requestId"] == request_id
    stack = error["stackTrace"]
    assert stack[0].startswith('  File "') and "steps.py" in stack[0]  # user frames first, no runtime frames
    assert "raise getattr(builtins, args[0])(args[1])" in stack[-1]
    cause = json.loads(result.header("lambda-runtime-function-xray-error-cause") or "")
    assert cause["exceptions"][0]["type"] == "ValueError"
    assert not [request for request in fake_api.requests if request.target.endswith(f"{request_id}/response")]


def test_any_exception_message_can_be_reported(fake_api: FakeRuntimeApi, start_runtime: StartRuntime) -> None:
    start_runtime("steps.streamed")
    message = "control \x7f\x00\x1b, lines\r\n, unicode \u2603"
    result = fake_api.invoke({"steps": [["raise", "ValueError", message]]})
    assert result.json()["errorMessage"] == message  # type: ignore[index]
    cause = json.loads(result.header("lambda-runtime-function-xray-error-cause") or "")
    assert cause["exceptions"][0]["message"] == message


def test_an_exception_whose_str_fails_is_still_reported(
    fake_api: FakeRuntimeApi, start_runtime: StartRuntime, tmp_path: pathlib.Path
) -> None:
    write_module(
        tmp_path,
        "weird",
        """\
        class Unprintable(Exception):
            def __str__(self):
                raise RuntimeError("no")

        def handler(event, context):
            raise Unprintable()
        """,
    )
    runtime = start_runtime("weird.handler", LAMBDA_TASK_ROOT=str(tmp_path))
    first = fake_api.invoke({}).json()
    assert first == {
        **first,
        "errorType": "Unprintable",
        "errorMessage": "<exception str() failed for Unprintable>",
    }
    fake_api.invoke({})
    assert runtime.popen.poll() is None


def test_an_exception_after_bytes_were_sent_becomes_error_trailers(
    fake_api: FakeRuntimeApi, start_runtime: StartRuntime
) -> None:
    start_runtime("steps.streamed")
    result = fake_api.invoke(
        {"steps": [["write", "partial"], ["raise", "RuntimeError", "line one\r\nline two"]]}
    )

    assert result.target.endswith("/response")
    assert result.body == b"partial"
    assert result.trailer("lambda-runtime-function-error-type") == "Function.RuntimeError"
    body = decoded_error_body(result.trailer("lambda-runtime-function-error-body"))
    assert set(body) == {"errorMessage", "errorType", "stackTrace"}
    assert body["errorType"] == "RuntimeError"
    assert body["errorMessage"] == "line one\r\nline two"


def test_a_long_error_after_the_first_byte_is_shortened_to_fit_rapids_trailer_buffer(
    fake_api: FakeRuntimeApi, start_runtime: StartRuntime, tmp_path: pathlib.Path
) -> None:
    """RAPID reads at most 4 KiB of trailers; a longer section would lose the error (Runtime.TruncatedResponse).

    (The whole report still goes to the log, which the test reads only at the end: kept under a pipe's 64 KiB.)
    """
    write_module(
        tmp_path,
        "deep",
        """\
        from stream_fn import streamify_response

        def recurse(depth):
            if depth == 0:
                raise ValueError("huge " + "detail " * 4_000)
            return recurse(depth - 1)

        @streamify_response
        def handler(event, response_stream, context):
            response_stream.write("partial")
            recurse(100)
        """,
    )
    start_runtime("deep.handler", LAMBDA_TASK_ROOT=str(tmp_path))
    result = fake_api.invoke({})

    assert result.target.endswith("/response") and result.body == b"partial"
    # On the wire: the trailer section after the last chunk, up to and including its empty line.
    raw = fake_api.raw_bytes()
    start = raw.index(b"\r\n0\r\nLambda-Runtime-Function-Error-Type: ") + len(b"\r\n0\r\n")
    section = raw[start : raw.index(b"\r\n\r\n", start) + 4]
    assert len(section) <= 4000
    assert result.trailer("lambda-runtime-function-error-type") == "Function.ValueError"
    body = decoded_error_body(result.trailer("lambda-runtime-function-error-body"))
    assert body["errorType"] == "ValueError" and body["truncated"] is True
    message = body["errorMessage"]
    assert isinstance(message, str) and message.startswith("huge detail detail ")
    assert message.endswith(
        f" [... message cut from {5 + 7 * 4_000} characters to fit the 4 KB limit on a streamed error report]"
    )
    stack = body["stackTrace"]
    assert isinstance(stack, list) and len(stack) == 2
    assert stack[0].startswith("  [") and "outer frames omitted" in stack[0]
    assert 'raise ValueError("huge " + "detail " * 4_000)' in stack[-1]  # the innermost frame locates it


def test_a_generator_that_fails_midway_ends_with_trailers(
    fake_api: FakeRuntimeApi, start_runtime: StartRuntime
) -> None:
    start_runtime("generators.fails_midway")
    result = fake_api.invoke({})
    assert result.body == b"partial "
    assert (
        decoded_error_body(result.trailer("lambda-runtime-function-error-body"))["errorMessage"]
        == "the generator broke"
    )


def test_an_http_stream_that_fails_before_writing_is_an_error_not_a_half_response(
    fake_api: FakeRuntimeApi, start_runtime: StartRuntime
) -> None:
    start_runtime("steps.streamed")
    result = fake_api.invoke({"steps": [["http", {"statusCode": 200}], ["raise", "KeyError", "missing"]]})
    assert result.target.endswith("/error")
    assert result.json()["errorType"] == "KeyError"  # type: ignore[index]


@pytest.mark.parametrize(
    ("prelude", "message"),
    [
        (
            {"statusCode": 103, "headers": {"link": "</a.css>; rel=preload"}},
            (
                "status_code must be an int from 200 to 599, got 103: 1xx statuses are interim responses, which a "
                "function URL cannot send"
            ),
        ),
        ({"statusCode": 101}, "got 101: 1xx statuses are interim"),
        (
            {"statusCode": 200, "headers": {"x-note": "caf\u00e9 \u2713"}},
            (
                "the value of header 'x-note' has '\u2713' (U+2713) at position 5 of 'caf\u00e9 \u2713', a character "
                "outside Latin-1: HTTP field values are Latin-1 (tab, space, visible ASCII and 0x80-0xFF). "
                "Percent-encode the value"
            ),
        ),
        ({"statusCode": 200, "cookies": ["note=\u2713"]}, "a cookie has '\u2713'"),
        ({"headers": {"x-a": "a\u0000b"}}, "must not contain CR, LF or NUL"),
    ],
)
def test_a_handler_that_sets_what_a_function_url_cannot_send_gets_an_error_that_says_why(
    fake_api: FakeRuntimeApi, start_runtime: StartRuntime, prelude: dict[str, object], message: str
) -> None:
    start_runtime("steps.streamed")
    result = fake_api.invoke({"steps": [["http", prelude], ["write", "never sent"]]})

    assert result.target.endswith("/error")  # raised before any byte: a proper error, nothing half-sent
    error = result.json()
    assert isinstance(error, dict)
    assert error["errorType"] == "InvalidMetadataError"
    assert message in str(error["errorMessage"])


def test_latin_1_header_values_such_as_e_acute_are_sent(
    fake_api: FakeRuntimeApi, start_runtime: StartRuntime
) -> None:
    start_runtime("steps.streamed")
    result = fake_api.invoke(
        {"steps": [["http", {"statusCode": 200, "headers": {"x-note": "caf\u00e9"}}], ["write", "ok"]]}
    )
    assert result.target.endswith("/response")
    assert result.chunks == [b'{"statusCode":200,"headers":{"x-note":"caf\\u00e9"}}', b"\0" * 8, b"ok"]


def test_misuse_after_the_response_ended_is_logged_with_a_message_that_says_what_to_do(
    fake_api: FakeRuntimeApi, start_runtime: StartRuntime
) -> None:
    runtime = start_runtime("steps.streamed")
    result = fake_api.invoke({"steps": [["write", "x"], ["end"], ["write", "late"]]})
    assert result.body == b"x" and result.trailers == []  # the response had ended: nothing can be added to it

    assert fake_api.invoke({"steps": [["write", "next"]]}).body == b"next"
    stdout, _ = runtime.stop()
    assert "[ERROR] StreamEndedError: cannot write on this response stream" in stdout
    assert "Write everything before calling end() or close()" in stdout


def test_system_exit_fails_only_its_invocation_and_the_process_keeps_serving(
    fake_api: FakeRuntimeApi, start_runtime: StartRuntime
) -> None:
    runtime = start_runtime("steps.streamed")
    failed = fake_api.invoke({"steps": [["write", "before exit"], ["exit", 3]]})
    assert (
        decoded_error_body(failed.trailer("lambda-runtime-function-error-body"))["errorType"] == "SystemExit"
    )

    after = fake_api.invoke({"steps": [["write", "still here"]]})
    assert after.body == b"still here" and after.trailers == []
    assert runtime.popen.poll() is None


def test_buffered_errors_use_the_stock_error_document_and_the_next_invocation_works(
    fake_api: FakeRuntimeApi, start_runtime: StartRuntime
) -> None:
    runtime = start_runtime("steps.buffered")
    failed = fake_api.invoke({"steps": [["raise", "ZeroDivisionError", "division by zero"]]})
    assert failed.target.endswith("/error")
    assert failed.json()["errorType"] == "ZeroDivisionError"  # type: ignore[index]
    assert fake_api.invoke({"return": "ok"}).body == b'"ok"'

    stdout, _ = runtime.stop()
    assert "[ERROR] ZeroDivisionError: division by zero\rTraceback (most recent call last):\r" in stdout
    assert '\r\u00a0\u00a0File "' in stdout  # indentation kept as no-break spaces, like the stock client


@pytest.mark.parametrize(
    ("handler", "kwargs", "error_type", "message"),
    [
        (
            "steps.returns_unserializable",
            {},
            "Runtime.MarshalError",
            "Unable to marshal response: Object of type object",
        ),
        ("steps.buffered", {"raw_body": b"{not json"}, "Runtime.UnmarshalError", "Unable to unmarshal input"),
        (
            "steps.buffered",
            {"extra_headers": [("Lambda-Runtime-Client-Context", "{broken")]},
            "Runtime.LambdaContextUnmarshalError",
            "Unable to parse Client Context JSON",
        ),
    ],
)
def test_runtime_errors_carry_the_stock_runtime_error_types(
    fake_api: FakeRuntimeApi,
    start_runtime: StartRuntime,
    handler: str,
    kwargs: dict[str, object],
    error_type: str,
    message: str,
) -> None:
    start_runtime(handler)
    result = fake_api.invoke({}, **kwargs)
    error = result.json()
    assert isinstance(error, dict)
    assert error["errorType"] == error_type
    assert str(error["errorMessage"]).startswith(message)
    assert result.header("lambda-runtime-function-error-type") == error_type


def write_module(directory: pathlib.Path, name: str, source: str) -> None:
    (directory / f"{name}.py").write_text(textwrap.dedent(source))


@pytest.mark.parametrize(
    ("handler", "source", "error_type", "message"),
    [
        (
            "missing_module.handler",
            None,
            "Runtime.ImportModuleError",
            "Unable to import module 'missing_module': No module named 'missing_module'",
        ),
        (
            "bad_syntax.handler",
            "def handler(:\n",
            "Runtime.UserCodeSyntaxError",
            "Syntax error in module 'bad_syntax'",
        ),
        (
            "no_handler.handler",
            "def other(event, context): pass\n",
            "Runtime.HandlerNotFound",
            "Handler 'handler' missing on module 'no_handler'",
        ),
        (
            "not_callable.handler",
            "handler = {}\n",
            "Runtime.HandlerNotFound",
            "is not a function (it is a dict)",
        ),
        ("explodes.handler", "raise LookupError('no config')\n", "LookupError", "no config"),
        ("nodot", None, "Runtime.MalformedHandlerName", "Bad handler 'nodot'"),
        ("sys.handler", None, "Runtime.BuiltInModuleConflict", "Cannot use built-in module sys"),
        (
            "early_hints.handler",
            (
                "from stream_fn import streamify_response\n@streamify_response(status_code=103)\n"
                "def handler(event, response_stream, context):\n    pass\n"
            ),
            "InvalidMetadataError",
            "status_code must be an int from 200 to 599, got 103: 1xx statuses are interim",
        ),
        (
            "wrong_shape.handler",
            "from stream_fn import streamify_response\n@streamify_response\ndef handler(event, context):\n    return 1\n",
            "TypeError",
            "must take (event, response_stream, context), or be a generator taking (event, context)",
        ),
    ],
)
def test_init_errors_are_posted_to_init_error_and_the_process_exits_1(
    fake_api: FakeRuntimeApi,
    start_runtime: StartRuntime,
    tmp_path: pathlib.Path,
    handler: str,
    source: str | None,
    error_type: str,
    message: str,
) -> None:
    if source is not None:
        write_module(tmp_path, handler.split(".")[0], source)
    runtime = start_runtime(handler, LAMBDA_TASK_ROOT=str(tmp_path))

    assert runtime.wait() == 1
    request = fake_api.wait_for(lambda request: request.target == f"{API}/init/error" and request.complete)
    error = request.json()
    assert isinstance(error, dict)
    assert error["errorType"] == error_type
    assert message in str(error["errorMessage"])
    assert request.header("lambda-runtime-function-error-type") in (error_type, f"Function.{error_type}")
    stdout, _ = runtime.stop()
    assert "LAMBDA_WARNING: Unhandled exception." in stdout
    assert f"[ERROR] {error_type}: " in stdout


def test_an_exception_at_import_keeps_its_traceback(
    fake_api: FakeRuntimeApi, start_runtime: StartRuntime, tmp_path: pathlib.Path
) -> None:
    write_module(tmp_path, "explodes", "def helper():\n    raise LookupError('no config')\nhelper()\n")
    assert start_runtime("explodes.handler", LAMBDA_TASK_ROOT=str(tmp_path)).wait() == 1
    error = fake_api.wait_for(
        lambda request: request.target.endswith("/init/error") and request.complete
    ).json()
    assert isinstance(error, dict)
    assert any("explodes.py" in line and "helper" in line for line in error["stackTrace"])


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("_HANDLER", None, "_HANDLER is not set"),
        ("AWS_LAMBDA_LOG_FORMAT", "xml", "AWS_LAMBDA_LOG_FORMAT must be Text or JSON, got 'xml'"),
        (
            "AWS_LAMBDA_LOG_LEVEL",
            "LOUD",
            "AWS_LAMBDA_LOG_LEVEL must be one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL",
        ),
    ],
)
def test_a_bad_environment_is_an_init_error_that_names_the_variable(
    fake_api: FakeRuntimeApi, start_runtime: StartRuntime, variable: str, value: str | None, message: str
) -> None:
    runtime = start_runtime("steps.buffered", **{variable: value})
    assert runtime.wait() == 1
    error = fake_api.wait_for(
        lambda request: request.target.endswith("/init/error") and request.complete
    ).json()
    assert message in str(error["errorMessage"])  # type: ignore[index]


def test_without_a_runtime_api_address_the_runtime_says_what_is_missing(start_runtime: StartRuntime) -> None:
    runtime = start_runtime("steps.buffered", AWS_LAMBDA_RUNTIME_API=None)
    assert runtime.wait() == 2
    _, stderr = runtime.stop()
    assert "AWS_LAMBDA_RUNTIME_API is not set" in stderr


def test_an_event_without_a_request_id_is_skipped_with_a_message(
    fake_api: FakeRuntimeApi, start_runtime: StartRuntime
) -> None:
    runtime = start_runtime("steps.streamed")
    fake_api.push({"steps": [["write", "never"]]}, request_id="")
    assert fake_api.invoke({"steps": [["write", "next"]]}).body == b"next"
    assert not [request for request in fake_api.requests if "//" in request.target]
    _, stderr = runtime.stop()
    assert "skipped an event without Lambda-Runtime-Aws-Request-Id" in stderr


def test_a_rejected_response_is_logged_and_the_loop_goes_on(
    fake_api: FakeRuntimeApi, start_runtime: StartRuntime
) -> None:
    runtime = start_runtime("steps.streamed")
    fake_api.response_status = lambda request: (413, b'{"errorType":"Function.ResponseSizeTooLarge"}')
    fake_api.invoke({"steps": [["write", "too big"]]})
    fake_api.response_status = lambda request: (202, b'{"status":"OK"}')

    assert fake_api.invoke({"steps": [["write", "fine"]]}).body == b"fine"
    _, stderr = runtime.stop()
    assert "HTTP 413" in stderr and "ResponseSizeTooLarge" in stderr


@pytest.mark.parametrize("failing", ["next", "response"])
def test_a_5xx_from_the_runtime_api_makes_the_runtime_exit_promptly(
    fake_api: FakeRuntimeApi, start_runtime: StartRuntime, failing: str
) -> None:
    if failing == "next":
        fake_api.next_statuses.append((500, b'{"errorType":"Runtime.Unknown"}'))
    else:
        fake_api.response_status = lambda request: (500, b"container error")
        fake_api.push({"steps": [["write", "x"]]})
    runtime = start_runtime("steps.streamed")

    assert runtime.wait() == 1
    _, stderr = runtime.stop()
    assert "stream_fn: stopping" in stderr and "HTTP 500" in stderr


def test_a_connection_reset_mid_stream_fails_that_invocation_only(
    fake_api: FakeRuntimeApi, start_runtime: StartRuntime
) -> None:
    runtime = start_runtime("steps.streamed")
    fake_api.reset_after_chunks = 1
    request_id = fake_api.push(
        {"steps": [["write", "a"], ["sleep", 0.2], ["write", "b"], ["write", "c"], ["write", "d"]]}
    )
    fake_api.wait_for(lambda request: request_id in request.target and len(request.chunks) >= 1)

    assert fake_api.invoke({"steps": [["write", "next one"]]}).body == b"next one"
    stdout, _ = runtime.stop()
    assert "StreamConnectionError" in stdout
    assert "lost the connection to the Lambda Runtime API" in stdout


def test_a_connection_the_runtime_api_closes_after_each_event_is_replaced(
    fake_api: FakeRuntimeApi, start_runtime: StartRuntime
) -> None:
    start_runtime("steps.streamed")
    fake_api.close_after_next_reply = True  # silently, like an idle timeout
    for number in range(3):
        result = fake_api.invoke({"steps": [["sleep", 0.1], ["write", f"after reconnect {number}"]]})
        assert result.body == f"after reconnect {number}".encode()
    assert len({request.connection_id for request in fake_api.requests}) >= 4


def test_the_runtime_works_when_its_socket_is_numbered_above_1023(
    fake_api: FakeRuntimeApi, start_runtime: StartRuntime, tmp_path: pathlib.Path
) -> None:
    write_module(
        tmp_path,
        "many_files",
        """\
        import os, resource, time
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
        held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]  # the runtime connects after this

        from stream_fn import streamify_response

        @streamify_response
        def handler(event, response_stream, context):
            time.sleep(0.1)  # lets the close arrive: a streamed answer racing it cannot be resent
            response_stream.write(str(max(held)))
        """,
    )
    start_runtime("many_files.handler", LAMBDA_TASK_ROOT=str(tmp_path))
    fake_api.close_after_next_reply = True  # makes the runtime check its idle socket before answering
    for _ in range(3):
        assert int(fake_api.invoke({}).body) > 1024


def test_a_buffered_response_is_resent_if_the_idle_connection_closed_as_it_went_out(
    fake_api: FakeRuntimeApi, start_runtime: StartRuntime
) -> None:
    start_runtime("steps.buffered")
    fake_api.close_after_next_reply = True  # no pause: the close races the response
    for number in range(10):
        assert fake_api.invoke({"return": number}).body == str(number).encode()


def test_connection_close_from_the_runtime_api_is_honoured(
    fake_api: FakeRuntimeApi, start_runtime: StartRuntime
) -> None:
    start_runtime("steps.streamed")
    fake_api.announce_close = True
    for number in range(3):
        assert fake_api.invoke({"steps": [["write", str(number)]]}).body == str(number).encode()
    event_connection = None
    # Each response goes out on a new connection, not on the one whose reply announced its close.
    for request in fake_api.requests:
        if request.method == "GET":
            event_connection = request.connection_id
        else:
            assert request.connection_id != event_connection


def test_after_a_hung_invocation_is_killed_a_new_process_serves_cleanly(
    fake_api: FakeRuntimeApi, start_runtime: StartRuntime
) -> None:
    hung = start_runtime("steps.streamed")
    request_id = fake_api.push({"steps": [["write", "started"], ["sleep", 60]]})
    fake_api.wait_for(lambda request: request_id in request.target and len(request.chunks) >= 1)
    hung.stop()  # what the platform does at the deadline

    start_runtime("steps.streamed")
    result = fake_api.invoke({"steps": [["write", "clean"]]})
    assert result.body == b"clean" and result.trailers == []
