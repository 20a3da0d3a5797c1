"""A module whose init takes `SLOW_INIT_SECONDS` (every time its runtime starts), then answers."""

import os
import time
from typing import Any

STARTED = time.time()
time.sleep(float(os.environ.get("SLOW_INIT_SECONDS", "3600")))


def handler(event: dict[str, Any], context: Any) -> dict[str, float]:
    return {"started": STARTED}
