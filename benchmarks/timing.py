"""Interleaved timing: every contender is sampled once per round, rounds repeat.

Imports: the standard library only.

Interleaving spreads the host's noise (other processes, frequency changes) over all
contenders instead of letting it land on whichever ran during a bad second. Each sample is the
mean over ``n`` back-to-back calls, with ``n`` calibrated per contender so that a sample lasts
about ``target`` seconds; the statistics are taken over samples (median, min, max).
"""

from __future__ import annotations

import gc
import math
import statistics
import sys
import time
from typing import Any, Callable


class Progress:
    """A one-line text progress bar on stderr (one line per update when stderr is not a tty)."""

    def __init__(self, total: int, width: int = 30):
        self.total = max(total, 1)
        self.done = 0
        self.width = width
        self.tty = sys.stderr.isatty()
        self.t0 = time.perf_counter()
        self._last = ""

    def step(self, message: str, n: int = 1) -> None:
        self.done = min(self.done + n, self.total)
        self.show(message)

    def show(self, message: str) -> None:
        frac = self.done / self.total
        bar = "#" * int(frac * self.width) + "." * (self.width - int(frac * self.width))
        line = f"[{bar}] {self.done}/{self.total} {time.perf_counter() - self.t0:5.0f}s {message}"
        if self.tty:
            sys.stderr.write("\r" + line[:118].ljust(118))
        elif message != self._last:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()
        self._last = message

    def close(self) -> None:
        if self.tty:
            sys.stderr.write("\n")
            sys.stderr.flush()


def _run(call: Callable[[], Any], n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        call()
    return (time.perf_counter() - t0) / n


def calibrate(call: Callable[[], Any], target: float, max_calls: int = 100_000) -> int:
    """Calls per sample so that one sample takes about ``target`` seconds."""
    t = _run(call, 1)
    if t >= target:
        return 1
    n = min(max_calls, max(1, math.ceil(target / max(t, 1e-7))))
    t = _run(call, n)  # refine with a longer run
    return min(max_calls, max(1, math.ceil(target / max(t, 1e-9))))


def interleaved(calls: dict[str, Callable[[], Any]], per_sample: dict[str, int], rounds: int,
                on_round: Callable[[int], None] | None = None) -> dict[str, list[float]]:
    """Seconds per call, one sample per contender per round, rotating the order each round."""
    names = list(calls)
    samples: dict[str, list[float]] = {n: [] for n in names}
    # The cycle collector stays off while timing (as in timeit): with torch, TensorFlow and jax
    # loaded one full collection takes ~0.6 s, which must not land inside a sample. Results
    # are freed by reference counting as usual.
    gc_was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        for r in range(rounds):
            order = names[r % len(names):] + names[:r % len(names)]
            for name in order:
                samples[name].append(_run(calls[name], per_sample[name]))
            if on_round:
                on_round(r)
    finally:
        if gc_was_enabled:
            gc.enable()
    return samples


def summarize(samples: list[float]) -> dict[str, float]:
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples),
            "n_samples": len(samples)}
