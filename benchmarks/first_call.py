"""First-call latency (trace + compile + first run) of one contender, in a fresh process.

    python -m benchmarks.first_call CONTENDER WORKLOAD [WORKLOAD ...]

Prints one JSON object ``{workload: seconds | "error: ..."}`` on stdout. The framework is
imported and the inputs are converted to its arrays before the clock starts, so the figure is
what a user waits for on the first call of an already-imported library. Workloads run in the
order given, so with several workloads per process the first one also pays the framework's
one-time warm-up (the benchmark driver starts one process per workload unless told
otherwise). torch.compile runs with its on-disk caches disabled (a cold compile, as
everyone else's).
"""

from __future__ import annotations

import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TORCHINDUCTOR_FORCE_DISABLE_CACHES", "1")


def main(argv: list[str]) -> None:
    from benchmarks.contenders import CONTENDERS
    from benchmarks.workloads import WORKLOADS

    contender = CONTENDERS[argv[0]]
    out: dict[str, object] = {}
    for name in argv[1:]:
        w = WORKLOADS[name]
        try:
            call, _ = contender.prepare(w, w.inputs())
            t0 = time.perf_counter()
            call()
            out[name] = time.perf_counter() - t0
        except Exception as e:  # noqa: BLE001 - reported, not fatal
            out[name] = f"error: {type(e).__name__}: {str(e).splitlines()[0][:200]}"
    sys.stdout.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
