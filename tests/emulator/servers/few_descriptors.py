"""The Lambda API and a Runtime API in a process that may open only a few more file descriptors.

Usage: `python few_descriptors.py <spare descriptors>`. Prints `<Lambda API port> <Runtime API port>`,
then serves until killed; the servers log to stderr.
"""

from __future__ import annotations

import asyncio
import logging
import os
import resource
import sys

from cdk_stream_fn.emulator.front_doors.lambda_api import LambdaApiServer
from cdk_stream_fn.emulator.http.settings import ServerSettings
from cdk_stream_fn.emulator.sandboxes.runtime_api import RuntimeApiServer


async def main(spare: int) -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(message)s")
    # No cap and no timeouts: running out of descriptors is what this process is for.
    api = await LambdaApiServer({}, settings=ServerSettings.unbounded()).start()
    runtime = await RuntimeApiServer.start()
    in_use = len(os.listdir("/proc/self/fd"))
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (in_use + spare, hard))
    print(api.port, runtime.address.rsplit(":", 1)[1], flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
