"""A module that takes 512 MiB while it is imported: its runtime runs out of memory during init."""

from __future__ import annotations

from typing import Any

HOARD = [b"x" * (16 * 1024 * 1024) for _ in range(32)]


def handler(event: dict[str, Any], context: Any) -> str:
    return "never reached with 128 MiB"
