"""bench/scale.py's report: the figures as JSON, a markdown table against the latency
targets, and the plots (query cost by index size, recall against latency by index type)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

TARGETS_MS = {100_000: 30.0, 1_000_000: 150.0}  # hybrid p50, issue 6


def write_report(results: dict[str, Any], out: Path) -> None:
    lines = [
        "| chunks | index | disk MB | load s | RAM B/chunk | add 1 doc s | dense p50/p95/p99 ms | "
        "BM25 p50/p95/p99 ms | hybrid p50/p95/p99 ms | ask p50/p95/p99 ms |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in results["sizes"]:
        cells = [
            f"{row[m]['p50']:.1f} / {row[m]['p95']:.1f} / {row[m]['p99']:.1f}"
            for m in ("dense", "bm25", "hybrid", "ask")
        ]
        lines.append(
            f"| {row['chunks']:,} | {row['index_type']} | {row['disk_mb']:,} | {row['load_s']:.2f} "
            f"| {row['ram_bytes_per_chunk']:,} | {row.get('update_one_doc_s', '')} | "
            + " | ".join(cells)
            + " |"
        )
    lines += ["", "| chunks | index | setting | recall@10 | p50 ms |", "|---|---|---|---|---|"]
    for row in results["index_type"]:
        lines.append(
            f"| {row['size']:,} | {row['index']} | {row['setting']} | {row['recall@10']:.3f} "
            f"| {row['p50_ms']:.3f} |"
        )
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing (pip install -e '.[bench]'): no plots")
        return
    sizes = [r["chunks"] for r in results["sizes"]]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for mode in ("dense", "bm25", "hybrid", "ask"):
        ax.plot(sizes, [r[mode]["p50"] for r in results["sizes"]], marker="o", label=f"{mode} p50")
    ax.plot(sizes, [r["hybrid"]["p95"] for r in results["sizes"]], ls="--", label="hybrid p95")
    for n, ms in TARGETS_MS.items():
        ax.scatter([n], [ms], marker="_", s=400, color="red")
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="chunks in the index",
        ylabel="ms per query",
        title="citeqa query latency (2 cores, query embedding included; red: targets)",
    )
    ax.legend()
    fig.tight_layout()
    fig.savefig(out.with_suffix(".png"), dpi=110)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    markers = {"flat": "s", "hnsw-sq8": "o", "ivf-sq8": "^", "hnsw-flat": "x"}
    sizes = sorted({r["size"] for r in results["index_type"]})
    colours = plt.get_cmap("viridis")(np.linspace(0, 0.9, len(sizes)))
    for size, colour in zip(sizes, colours, strict=True):  # colour: size; marker: index type
        for name, marker in markers.items():
            pts = [r for r in results["index_type"] if r["size"] == size and r["index"] == name]
            if pts:
                ax.plot(
                    [p["p50_ms"] for p in pts],
                    [p["recall@10"] for p in pts],
                    marker=marker,
                    color=colour,
                    ls=":" if name == "ivf-sq8" else "-",
                    label=f"{name} {size:,}",
                )
    ax.set(
        xscale="log",
        xlabel="ms per query (FAISS only)",
        ylabel="recall@10 vs exact",
        title="Index type: exact against approximate",
    )
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out.parent / "index_type.png", dpi=110)
