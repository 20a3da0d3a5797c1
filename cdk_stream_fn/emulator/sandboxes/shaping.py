"""Bandwidth shaping of streamed responses, as RAPID does it: a token bucket per response.

The first `burst` bytes pass at full speed, then the stream settles at `rate` bytes per second
(6 MiB and 2 MiB/s on Lambda). While a delay runs, the Runtime API does not read from the runtime's
socket, so the runtime feels the same backpressure it would on Lambda.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from cdk_stream_fn.emulator import limits


class TokenBucket:
    """Allows `rate` bytes per second on average with bursts of up to `burst` bytes."""

    def __init__(
        self,
        *,
        rate: float = limits.SHAPING_RATE_BYTES_PER_SECOND,
        burst: float = limits.SHAPING_BURST_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0 or burst <= 0:
            raise ValueError(f"rate and burst must be positive, got rate={rate} burst={burst}")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = burst
        self._updated = clock()

    def delay_for(self, size: int) -> float:
        """Take `size` tokens and return how long to wait before the bytes may pass (seconds)."""
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now
        self._tokens -= size
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate
