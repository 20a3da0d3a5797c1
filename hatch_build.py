"""Hatch build hook: the wheel and the sdist carry the runtime's bytecode for the layer.

`runtime/stream_fn/layer-bytecode.zip` holds stream_fn compiled by Lambda's interpreters
(cdk_stream_fn/layer_bytecode.py says why, and why there). It is made when the package is built: by
`./dev setup` in a checkout, and here when a wheel or sdist is built from a checkout whose archive is
missing or out of date (compiled in the platform roots, which need Linux with bubblewrap). A wheel built
from the sdist finds the archive there and compiles nothing, so it carries the same bytes. An editable
install uses the checkout's archive in place. The archive is git-ignored, so pyproject.toml lists it
among the build's artifacts.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class LayerBytecodeHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name == "wheel" and version == "editable":
            return  # the checkout's own archive is used in place; ./dev setup keeps it up to date
        sys.path.insert(0, self.root)
        try:
            from cdk_stream_fn.platform_roots.bytecode import BytecodeBuildError, ensure_layer_bytecode
        finally:
            sys.path.remove(self.root)
        package_dir = Path(self.root, "runtime", "stream_fn")
        try:
            built = ensure_layer_bytecode(package_dir, progress=self.app.display_info)
        except BytecodeBuildError as error:
            raise RuntimeError(
                f"the {self.target_name} must carry the runtime layer's bytecode, and it could not be "
                f"compiled here: {error}. Build on Linux with bubblewrap (apt-get install bubblewrap), or "
                "from the sdist, which carries it."
            ) from None
        if built:
            self.app.display_info(f"compiled the layer's bytecode into {package_dir / 'layer-bytecode.zip'}")
