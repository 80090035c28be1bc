"""First-call latency (trace + compile + first run) of one contender, in a fresh process.

    python -m benchmarks.first_call CONTENDER[,CONTENDER...] WORKLOAD [WORKLOAD ...]

Prints one JSON object ``{contender: {workload: seconds | "error: ..."}}`` on stdout. The
framework is imported and the inputs are converted to its arrays before the clock starts, so
the figure is what a user waits for on the first call of an already-imported library.
Contenders and workloads run in the order given, so with several per process the first one
also pays the framework's one-time warm-up (the full benchmark run starts one process per
contender and workload; --quick one per framework). torch.compile runs with its on-disk
caches disabled (a cold compile, as everyone else's).
"""

from __future__ import annotations

import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TORCHINDUCTOR_FORCE_DISABLE_CACHES", "1")
os.environ.setdefault("XFRONT_CACHE", "0")  # a cold compile (benchmarks/bench_export.py: warm)


def main(argv: list[str]) -> None:
    from benchmarks.contenders import CONTENDERS
    from benchmarks.workloads import WORKLOADS

    out: dict[str, dict[str, object]] = {}
    for cname in argv[0].split(","):
        contender = CONTENDERS[cname]
        out[cname] = {}
        for name in argv[1:]:
            w = WORKLOADS[name]
            try:
                call, _ = contender.prepare(w, w.inputs())
                t0 = time.perf_counter()
                call()
                out[cname][name] = time.perf_counter() - t0
            except Exception as e:  # noqa: BLE001 - reported, not fatal
                out[cname][name] = f"error: {type(e).__name__}: {str(e).splitlines()[0][:200]}"
    sys.stdout.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
