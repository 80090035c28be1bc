"""Benchmark reports: a Markdown table, the raw JSON, and a PNG chart.

Imports: the standard library; matplotlib lazily (the ``bench`` extra) for the chart.

Terms used in the report:
* median / min / max: seconds per call over interleaved samples (each sample a mean of many
  back-to-back calls);
* ``x best peer``: median / the best peer's median (below 1 is faster than every peer);
* ``% of limit``: the time the machine needs at least (bytes / triad bandwidth, or FLOPs /
  peak GEMM FLOP/s, whichever is larger) as a percentage of the median;
* first call: trace + compile + first run in a fresh process (first_call.py).
"""

from __future__ import annotations

import json
import os
from typing import Any


def save_json(path: str | None, obj: Any) -> None:
    """Write a benchmark's results to ``path`` (its ``--json`` option) when one is given."""
    if path:
        with open(path, "w") as f:
            json.dump(obj, f, indent=2, default=float)


def fmt_time(s: float | None) -> str:
    if s is None:
        return "-"
    if s < 1e-3:
        return f"{s * 1e6:.1f} us"
    if s < 1.0:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.0f}%"


def _ratio(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}x"


def analyze(result: dict[str, Any]) -> None:
    """Fill in best peer, ratios and fractions of the machine's limits (in place)."""
    bw = result["limits"]["bandwidth"]["triad"]
    peak = result["limits"]["matmul"]["flops"]
    for w in result["workloads"].values():
        w["limit_s"] = max(w["bytes"] / bw, w["flops"] / peak if w["flops"] else 0.0)
        ok = {n: c for n, c in w["contenders"].items() if c["status"] == "ok"}
        peers = {n: c for n, c in ok.items() if c["peer"]}
        mine = {n: c for n, c in ok.items() if not c["peer"]}
        w["best_peer"] = min(peers, key=lambda n: peers[n]["median"]) if peers else None
        w["best_xfront"] = min(mine, key=lambda n: mine[n]["median"]) if mine else None
        best = peers[w["best_peer"]]["median"] if peers else None
        for c in ok.values():
            c["x_best_peer"] = c["median"] / best if best else None
            c["fraction_of_limit"] = w["limit_s"] / c["median"] if w["limit_s"] else None


def markdown(result: dict[str, Any]) -> str:
    meta, lim = result["meta"], result["limits"]
    v = meta["machine"]["versions"]
    lines = [
        f"# xfront benchmarks ({'quick' if meta['quick'] else 'full'} run, {meta['date']})",
        "",
        f"Machine: {meta['machine']['cpu']}, {meta['machine']['cores']} cores, "
        f"load average {meta['loadavg'][0]:.1f} at start and {meta['loadavg_end'][0]:.1f} at "
        f"end. " + ", ".join(f"{k} {val}" for k, val in v.items()) + ".",
        "",
        f"Limits (best of a measurement before and after the run): STREAM copy "
        f"{lim['bandwidth']['copy'] / 1e9:.1f} GB/s, triad "
        f"{lim['bandwidth']['triad'] / 1e9:.1f} GB/s; peak float32 GEMM "
        f"{lim['matmul']['flops'] / 1e9:.0f} GFLOP/s ({lim['matmul']['library']}). Above 100% "
        "of the limit means the data stayed in cache or the limit was measured in a busier "
        "moment.",
        f"Timing: {meta['rounds']} interleaved rounds per workload; each sample averages "
        f"calls for ~{meta['target_ms']:.0f} ms. First call: {meta['first_call']}.",
        "",
        "## Summary",
        "",
        "| workload | best peer | its median | xfront (xfront arrays) | x best peer "
        "| best xfront variant | x best peer | xfront % of limit | peer % of limit |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, w in result["workloads"].items():
        c = w["contenders"]
        bp, bx = w.get("best_peer"), w.get("best_xfront")
        xa = c.get("xfront", {})
        xa_ok = xa.get("status") == "ok"
        lines.append(
            f"| {name} | {bp or '-'} | {fmt_time(c[bp]['median']) if bp else '-'} "
            f"| {fmt_time(xa['median']) if xa_ok else xa.get('status', '-')} "
            f"| {_ratio(xa.get('x_best_peer')) if xa_ok else '-'} | {bx or '-'} "
            f"| {_ratio(c[bx]['x_best_peer']) if bx else '-'} "
            f"| {_pct(c[bx]['fraction_of_limit']) if bx else '-'} "
            f"| {_pct(c[bp]['fraction_of_limit']) if bp else '-'} |")
    lines += ["", "## Per workload", ""]
    for name, w in result["workloads"].items():
        lines += [f"### {name}: {w['title']}", "",
                  f"Cost model: {w['bytes'] / 1e6:.1f} MB moved"
                  + (f", {w['flops'] / 1e9:.2f} GFLOP" if w["flops"] else "")
                  + f"; machine limit {fmt_time(w['limit_s'])}.", "",
                  "| contender | median | min | max | x best peer | first call | % of limit "
                  "| max rel. error |",
                  "|---|---|---|---|---|---|---|---|"]
        for cname, c in w["contenders"].items():
            fc = c.get("first_call_s")
            fc_s = fmt_time(fc) if isinstance(fc, (int, float)) else (fc or "-")
            if c["status"] != "ok":
                lines.append(f"| {cname} | {c['status']}: {c.get('detail', '')} | | | | {fc_s} "
                             "| | |")
                continue
            lines.append(
                f"| {cname} | {fmt_time(c['median'])} | {fmt_time(c['min'])} "
                f"| {fmt_time(c['max'])} | {_ratio(c['x_best_peer'])} | {fc_s} "
                f"| {_pct(c['fraction_of_limit'])} | {c['max_rel_err']:.1e} |")
        lines.append("")
    return "\n".join(lines) + "\n"


def chart(result: dict[str, Any], path: str) -> str | None:
    """A PNG with one panel per workload: median time per contender (error bars min..max)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import matplotlib.ticker
    except ImportError:
        return "matplotlib is not installed (pip install 'xfront[bench]')"
    names = list(result["workloads"])
    cols = 3
    rows = (len(names) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(6 * cols, 3.4 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names):
        w = result["workloads"][name]
        ok = [(n, c) for n, c in w["contenders"].items() if c["status"] == "ok"]
        labels = [n for n, _ in ok]
        med = [c["median"] * 1e3 for _, c in ok]
        err = [[c["median"] * 1e3 - c["min"] * 1e3 for _, c in ok],
               [c["max"] * 1e3 - c["median"] * 1e3 for _, c in ok]]
        colors = ["tab:orange" if not c["peer"] else "tab:blue" for _, c in ok]
        ax.barh(labels, med, xerr=err, color=colors)
        if w.get("limit_s"):
            ax.axvline(w["limit_s"] * 1e3, color="k", ls="--", lw=1, label="machine limit")
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.invert_yaxis()
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("ms per call (log)")
        ax.tick_params(axis="y", labelsize=8)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    fig.suptitle("xfront (orange) vs peers (blue); dashed: machine limit", fontsize=12)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return None


def write(result: dict[str, Any], out_dir: str, stem: str, with_chart: bool = True) -> list[str]:
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    p = os.path.join(out_dir, f"{stem}.json")
    with open(p, "w") as f:
        json.dump(result, f, indent=1, default=float)
    paths.append(p)
    p = os.path.join(out_dir, f"{stem}.md")
    with open(p, "w") as f:
        f.write(markdown(result))
    paths.append(p)
    if with_chart:
        p = os.path.join(out_dir, f"{stem}.png")
        problem = chart(result, p)
        paths.append(p if problem is None else f"(no chart: {problem})")
    return paths
