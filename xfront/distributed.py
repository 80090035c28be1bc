"""Multi-process runs: ``xfront.distributed.initialize`` joins processes into one runtime.

Imports: _errors; the runtime adapter lazily. Every process calls ``initialize`` with the
same coordinator address and process count, and its own ``process_id``, before it creates any
array; process 0 also runs the coordinator service. Afterwards ``xf.devices()`` lists the
devices of all processes, a ``Mesh`` may span them, and a program compiled with shardings runs
as one program across the processes (CPU collectives use gloo). Each process builds its part
of a global array with ``xf.make_array_from_process_local_data``.
"""

from __future__ import annotations

from typing import Any

from xfront import _errors
from xfront._rt import rt as _rt

__all__ = ["initialize", "shutdown", "process_index", "process_count"]


def initialize(coordinator_address: str, num_processes: int, process_id: int, *,
               local_device_ids: Any = None, timeout_s: int = 300) -> None:
    """Join the multi-process runtime (``coordinator_address`` is ``host:port``)."""
    if not isinstance(num_processes, int) or num_processes < 1 or \
            not isinstance(process_id, int) or not 0 <= process_id < num_processes:
        raise _errors.err(_errors.ArgumentError, "distributed.initialize",
                          f"process_id={process_id!r} and num_processes={num_processes!r} do "
                          "not fit", "use 0 <= process_id < num_processes")
    if not isinstance(coordinator_address, str) or ":" not in coordinator_address:
        raise _errors.err(_errors.ArgumentError, "distributed.initialize",
                          f"coordinator_address {coordinator_address!r} is not 'host:port'")
    try:
        _rt().distributed_initialize(coordinator_address, num_processes, process_id,
                                     local_device_ids, timeout_s)
    except _errors.XfrontError:
        raise
    except Exception as e:
        raise _errors.err(_errors.DeviceError, "distributed.initialize",
                          f"could not join the runtime at {coordinator_address} as process "
                          f"{process_id} of {num_processes}: {str(e).splitlines()[0][:300]}",
                          "call it once per process, before any array is created, with the "
                          "same address and process count everywhere") from None


def shutdown() -> None:
    """Leave the multi-process runtime (optional; it also ends with the process)."""
    _rt().distributed_shutdown()


def process_index() -> int:
    return _rt().process_index()


def process_count() -> int:
    return _rt().process_count()
