"""The runtime adapter (``xfront.lowering.runtime``), loaded on first device use.

Imports: nothing at import time. ``import xfront`` must not load jaxlib; every module that
needs the adapter calls ``rt()``, which imports it once and then returns it from a global.
"""

from __future__ import annotations

from typing import Any

_runtime: Any = None


def rt() -> Any:
    """The runtime adapter module (imported on the first call)."""
    global _runtime
    if _runtime is None:
        from xfront.lowering import runtime

        _runtime = runtime
    return _runtime
