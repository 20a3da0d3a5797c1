"""``python -m stream_fn``: the runtime's entry point, as Lambda (through wrapper.sh) and the emulator start it.

One invocation at a time (:mod:`stream_fn.loop`), or several at once on Lambda Managed Instances, when
Lambda sets ``AWS_LAMBDA_MAX_CONCURRENCY`` (:mod:`stream_fn.managed_instances`, which builds on the loop and
is loaded only then: every module at start-up is compiled from source at every cold start).
"""

import os

from stream_fn.loop import MAX_CONCURRENCY_VARIABLE, main

if os.environ.get(MAX_CONCURRENCY_VARIABLE):
    from stream_fn.managed_instances import main

if __name__ == "__main__":
    raise SystemExit(main())
