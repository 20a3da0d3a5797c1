"""`python -m cdk_stream_fn.cli`: the `cdk-stream-fn` command."""

import sys

from cdk_stream_fn.cli.entry import main

sys.exit(main())
