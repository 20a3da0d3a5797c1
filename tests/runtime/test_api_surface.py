"""The handler-facing API: what ``import stream_fn`` costs, the lazy adapters, and @streamify_response's checks."""

from __future__ import annotations

import functools
import json
import pathlib
import subprocess
import sys
import textwrap

import pytest
from stream_fn import InvalidMetadataError, streamify_response
from stream_fn.decorator import is_async_function, streaming_options

pytestmark = pytest.mark.timeout(60)


def run_python(code: str) -> str:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=True, timeout=30
    ).stdout


def test_importing_stream_fn_imports_nothing_heavy() -> None:
    modules = set(
        json.loads(run_python("import json, sys; import stream_fn; print(json.dumps(sorted(sys.modules)))"))
    )
    heavy = {
        "asyncio",
        "logging",
        "typing",
        "inspect",
        "socket",
        "threading",
        "stream_fn.asgi",
        "stream_fn.wsgi",
        "stream_fn.http_request",
        "stream_fn.http_response",
        "stream_fn.sse",
        "stream_fn.sse_format",
        "starlette",
        "fastapi",
        "flask",
        "werkzeug",
    }
    assert sorted(heavy & modules) == []


def test_the_web_adapters_load_on_first_use(tmp_path: pathlib.Path) -> None:
    (tmp_path / "asgi.py").write_text("asgi_handler = 'the asgi adapter'\n")
    (tmp_path / "wsgi.py").write_text("wsgi_handler = 'the wsgi adapter'\n")
    output = run_python(
        f"""
        import sys
        import stream_fn
        stream_fn.__path__.insert(0, {str(tmp_path)!r})  # stand-ins for the adapter modules
        print('stream_fn.asgi' in sys.modules, 'stream_fn.wsgi' in sys.modules)
        print(stream_fn.asgi_handler, '|', stream_fn.wsgi_handler)
        print('stream_fn.asgi' in sys.modules, 'stream_fn.wsgi' in sys.modules)
        """
    )
    assert output.splitlines() == ["False False", "the asgi adapter | the wsgi adapter", "True True"]


def test_the_response_streams_load_when_a_handler_uses_them() -> None:
    output = run_python(
        """
        import sys
        import stream_fn
        from stream_fn import streamify_response
        print('stream_fn.streams' in sys.modules)
        streamify_response(lambda event, response_stream, context: None)
        print('stream_fn.streams' in sys.modules)
        from stream_fn import HttpResponseStream, ResponseStream
        from stream_fn import streams
        print(HttpResponseStream is streams.HttpResponseStream, ResponseStream is streams.ResponseStream)
        print(sorted(set(stream_fn.__all__) - set(dir(stream_fn))))
        """
    )
    assert output.splitlines() == [
        "False",
        "False",
        "True True",
        "['ServerSentEvent', 'ServerSentEvents', 'asgi_handler', 'current_invocation', 'last_event_id', 'sse_response', 'wsgi_handler']",
    ]


def test_the_server_sent_events_helper_loads_on_first_use() -> None:
    output = run_python(
        """
        import sys
        import stream_fn
        print(sorted(name for name in sys.modules if name.startswith('stream_fn.sse')))
        from stream_fn import ServerSentEvent, sse_response
        from stream_fn import sse, sse_format
        print(ServerSentEvent is sse_format.ServerSentEvent, sse_response is sse.sse_response)
        print(sorted(name for name in sys.modules if name.startswith('stream_fn.sse')))
        """
    )
    assert output.splitlines() == [
        "[]",
        "True True",
        "['stream_fn.sse', 'stream_fn.sse_format', 'stream_fn.sse_schedule', 'stream_fn.sse_timers']",
    ]


def test_decorator_options_load_the_stream_rules_that_check_them() -> None:
    output = run_python(
        """
        import sys
        from stream_fn import streamify_response
        print('stream_fn.framing' in sys.modules)
        streamify_response(content_type="text/plain")(lambda event, response_stream, context: None)
        print('stream_fn.framing' in sys.modules)
        """
    )
    assert output.splitlines() == ["False", "True"]


def test_an_unknown_attribute_is_an_attribute_error() -> None:
    import stream_fn

    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        stream_fn.nope  # noqa: B018


def test_the_decorator_returns_the_handler_itself_so_it_can_be_called_in_unit_tests() -> None:
    def handler(event: object, response_stream: object, context: object) -> str:
        return "called"

    decorated = streamify_response(handler)
    assert decorated is handler
    assert decorated({}, None, None) == "called"
    options = streaming_options(handler)
    assert options is not None and not options.generator and options.content_type is None


def test_decorator_options_are_checked_when_the_module_is_imported() -> None:
    with pytest.raises(InvalidMetadataError, match="content_type cannot be combined with status_code"):
        streamify_response(content_type="text/plain", status_code=200)
    with pytest.raises(InvalidMetadataError, match="status_code must be an int from 200 to 599"):
        streamify_response(status_code=99)
    with pytest.raises(InvalidMetadataError, match="invalid content type"):
        streamify_response(content_type="text/plain\n")
    with pytest.raises(TypeError, match="needs a function"):
        streamify_response(42)  # type: ignore[call-overload]


def test_handler_shapes_are_checked() -> None:
    def two_parameters(event: object, context: object) -> None:
        pass

    def generator_with_three(event: object, stream: object, context: object) -> object:
        yield b""

    with pytest.raises(TypeError, match=r"must take \(event, response_stream, context\)"):
        streamify_response(two_parameters)
    with pytest.raises(TypeError, match=r"generator .* must take \(event, context\)"):
        streamify_response(generator_with_three)


def test_methods_callables_and_partials_can_be_handlers() -> None:
    class App:
        def handle(self, event: object, response_stream: object, context: object) -> None:
            pass

        async def handle_async(self, event: object, response_stream: object, context: object) -> None:
            pass

        async def __call__(self, event: object, response_stream: object, context: object) -> None:
            pass

    async def with_prefix(prefix: str, event: object, response_stream: object, context: object) -> None:
        pass

    bound = streamify_response(App().handle)
    assert streaming_options(bound) is not None and not is_async_function(bound)
    bound_async = streamify_response(App().handle_async)
    assert streaming_options(bound_async) is not None and is_async_function(bound_async)
    callable_object = streamify_response(App())
    assert streaming_options(callable_object) is not None and is_async_function(callable_object)
    partial = streamify_response(functools.partial(with_prefix, "p"))
    assert is_async_function(partial)


def test_generator_options_make_an_http_prelude() -> None:
    @streamify_response(status_code=201, headers={"content-type": "text/plain"}, cookies=["a=b"])
    async def handler(event: object, context: object) -> object:
        yield "x"

    options = streaming_options(handler)
    assert options is not None and options.generator
    assert (
        options.http_prelude
        == b'{"statusCode":201,"headers":{"content-type":"text/plain"},"cookies":["a=b"]}'
    )
    assert is_async_function(handler)


def test_current_invocation_is_the_scope_concurrent_code_reads_its_ids_from() -> None:
    output = run_python(
        """
        from stream_fn import current_invocation
        from stream_fn.invocation_scope import InvocationScope, enter_invocation, use_concurrent_invocations
        print(current_invocation())
        use_concurrent_invocations()
        enter_invocation(InvocationScope("req-1", "Root=1-abc", None))
        print(current_invocation().request_id, current_invocation().trace_id)
        """
    )
    assert output.splitlines() == ["None", "req-1 Root=1-abc"]
