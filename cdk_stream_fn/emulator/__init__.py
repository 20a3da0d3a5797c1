"""The local Lambda service: Runtime API, function URLs and the Lambda API, with real streaming.

In layers, each a folder, each importing only the layers below it:

- `app/`: the service `serve` runs (`service.Emulator`), functions read from a CDK cloud assembly
  (`assembly`), synthesized on demand (`synth`);
- `front_doors/`: how callers reach a function: its function URL (`function_url`, with `url_event` and
  the `prelude` decoder) and the Lambda API (`lambda_api`, `event_stream` for InvokeWithResponseStream);
- `sandboxes/`: the execution side: the Runtime API of each sandbox (`runtime_api`, a router around
  `lifecycle`, RAPID's rules as a pure state machine, with `bodies`), the runtime processes it serves
  (`sandbox`, `pool`, `config`), the invocations that travel between a front door and a runtime
  (`invocation`), bandwidth shaping (`shaping`);
- `http/`: the HTTP/1.1 server all three servers share (`connection`, an asyncio protocol with httptools'
  llhttp parser), request parsing into events (`parsing`), response bytes (`framing`);
- `limits`: the platform's numbers, each with its source; `platform_errors`: every error reported in
  Lambda's name (`FunctionError`), each with its source.

Programmatic use, e.g. as a loopback Runtime API for any runtime::

    import asyncio
    from cdk_stream_fn.emulator.sandboxes.invocation import InvokeRequest
    from cdk_stream_fn.emulator.sandboxes.runtime_api import RuntimeApiServer

    async def main() -> None:
        api = await RuntimeApiServer.start(timeout_seconds=60)
        # start a runtime with AWS_LAMBDA_RUNTIME_API=api.address (or let a Sandbox do it)
        invocation = api.invoke(InvokeRequest(payload=b"{}"))
        head = await invocation.head()
        async for received_ns, chunk in invocation.timed_body():
            ...
        await api.stop()

Nothing here imports aws_cdk or boto3; the standard library and httptools suffice.
"""
