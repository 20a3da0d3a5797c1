"""stream_fn on Managed Instances with the design alternative: each slot waits in GET /next on a thread.

Not what stream_fn ships: the benchmark starts this instead of `python -m stream_fn` to measure the other
way a blocking client can meet the event loop. Each slot's `next_event` runs a blocking RuntimeApiClient's
`GET /next` (its own connection) on a thread of its own and hands the event to the loop; the response goes
out non-blocking on the slot's loop connection, as in stream_fn.
"""

import asyncio
import concurrent.futures
import os

from stream_fn import loop_client, managed_instances
from stream_fn.loop import MAX_CONCURRENCY_VARIABLE, USER_AGENT
from stream_fn.runtime_api import RuntimeApiClient

_threads = concurrent.futures.ThreadPoolExecutor(
    max_workers=int(os.environ[MAX_CONCURRENCY_VARIABLE]), thread_name_prefix="next"
)


async def next_event_on_a_thread(self):  # type: ignore[no-untyped-def]
    blocking = getattr(self, "_blocking_next", None)
    if blocking is None:
        blocking = self._blocking_next = RuntimeApiClient(self.address, USER_AGENT)
    return await asyncio.get_running_loop().run_in_executor(_threads, blocking.next_invocation)


loop_client.LoopRuntimeApiClient.next_event = next_event_on_a_thread  # type: ignore[method-assign]

if __name__ == "__main__":
    raise SystemExit(managed_instances.main())
