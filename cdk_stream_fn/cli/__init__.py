"""`cdk-stream-fn`: the command line (serve, invoke), apart from the construct.

Importing it imports the standard library only, so `--help` answers at once.
"""

from cdk_stream_fn.cli.entry import main

__all__ = ["main"]
