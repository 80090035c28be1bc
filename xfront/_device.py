"""Devices: which PJRT device an array lives on and where programs run.

Imports: _errors; the runtime adapter lazily. Platform choice, in order: an explicit
``device=`` argument, ``xfront.using_device(...)`` (per thread), the
``XFRONT_DEVICE`` environment variable (``cpu``, ``gpu``, ``cuda:1``...), else the first
accelerator found (GPU/TPU), else the CPU.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from typing import Any, Iterator

from xfront import _errors
from xfront._rt import rt as _rt


class Device:
    """An xfront device: a platform ('cpu', 'gpu', 'tpu') and an index."""

    __slots__ = ("platform", "id", "rt", "_hash")

    def __init__(self, platform: str, id: int, rt: Any):
        self.platform = platform
        self.id = id
        self.rt = rt  # the PJRT device object (opaque outside the runtime adapter)
        self._hash = hash((platform, id))

    def __repr__(self) -> str:
        return f"Device({self.platform}:{self.id})"

    def __str__(self) -> str:
        return f"{self.platform}:{self.id}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Device) and other.platform == self.platform and other.id == self.id

    def __hash__(self) -> int:
        return self._hash

    @property
    def kind(self) -> str:
        return getattr(self.rt, "device_kind", self.platform)


_devices: dict[str, list[Device]] = {}
# NOTE [Per-thread default device]
#     ``using_device`` sets a context variable, so it affects only the thread (or asyncio task)
#     that entered it: two threads may each run on their own device at the same time. A new
#     thread starts with no override (the environment's or the first device), as
#     ``contextvars`` gives every thread a fresh context.
_default: contextvars.ContextVar[Device | None] = contextvars.ContextVar(
    "xfront_default_device", default=None)


def devices(platform: str | None = None) -> list[Device]:
    """The devices of ``platform`` (default: of every available platform, accelerators first)."""
    rt = _rt()
    plats = [platform] if platform else rt.available_platforms()
    out: list[Device] = []
    for p in plats:
        p = {"cuda": "gpu", "rocm": "gpu"}.get(p, p)
        if p not in _devices:
            try:
                _devices[p] = [Device(p, i, d) for i, d in enumerate(rt.devices(p))]
            except RuntimeError as e:
                raise _errors.err(_errors.DeviceError, "devices", str(e),
                                  "available platforms: " + ", ".join(rt.available_platforms()))
        out.extend(_devices[p])
    return out


def get_device(spec: Any) -> Device:
    """Resolve ``spec``: a Device, 'cpu', 'gpu', 'cuda:1', a torch/jax device, or None (default)."""
    if spec is None:
        return default_device()
    if isinstance(spec, Device):
        return spec
    if not isinstance(spec, str):
        # foreign device objects: torch.device('cuda', 0), jax devices, TF device strings
        plat = getattr(spec, "type", None) or getattr(spec, "platform", None)
        idx = getattr(spec, "index", None)
        if idx is None:
            idx = getattr(spec, "id", 0)
        if plat is None:
            raise _errors.err(_errors.DeviceError, "device",
                              f"cannot interpret {spec!r} as a device",
                              "use 'cpu', 'gpu', 'gpu:1' or an entry of xfront.devices()")
        spec = f"{plat}:{idx or 0}"
    name, _, idx_s = spec.lower().partition(":")
    name = {"cuda": "gpu", "rocm": "gpu"}.get(name, name)
    if name not in ("cpu", "gpu", "tpu"):
        raise _errors.err(_errors.DeviceError, "device", f"unknown platform {spec!r}",
                          "use 'cpu', 'gpu', 'gpu:1' or an entry of xfront.devices()")
    devs = devices(name)
    i = int(idx_s) if idx_s else 0
    if not 0 <= i < len(devs):
        raise _errors.err(_errors.DeviceError, "device",
                          f"{spec!r} does not exist; {name} has {len(devs)} device(s)")
    return devs[i]


_env_default: Device | None = None


def default_device() -> Device:
    global _env_default
    d = _default.get()
    if d is not None:
        return d
    if _env_default is None:
        spec = os.environ.get("XFRONT_DEVICE")
        _env_default = get_device(spec) if spec else devices()[0]
    return _env_default


@contextlib.contextmanager
def using_device(spec: Any) -> Iterator[Device]:
    """``with xfront.using_device('cpu'): ...`` makes new arrays and programs of this thread
    use that device (NOTE [Per-thread default device])."""
    dev = get_device(spec)
    token = _default.set(dev)
    try:
        yield dev
    finally:
        _default.reset(token)
