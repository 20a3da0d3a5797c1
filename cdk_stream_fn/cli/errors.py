"""What the `cdk-stream-fn` commands raise for a problem the user can fix."""

from __future__ import annotations

EXIT_USAGE = 2


class CliError(Exception):
    """A problem the user can fix; printed without a traceback."""
