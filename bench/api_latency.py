"""Latency of the OpenAI-compatible API as a client sees it: time to the first token and to
the whole answer (p50/p95), over the QA set's questions, asked one at a time with the
official `openai` client, streamed, against the API served by uvicorn on loopback.

The index's own embedder and the server's answerer (extractive unless configured) answer.
Writes bench/results/api_latency.json and .md. It does not measure concurrent load.

Usage: python bench/api_latency.py [--index DIR] [--qa FILE] [--limit N] [--quick] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from provenance import source_version

from frontends.server import api, listen
from qa.factory import embedder_spec, open_service
from qa.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def questions(path: Path, limit: int | None) -> list[str]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return [r["question"] for r in rows][:limit]


def serve_in_thread(app: Any) -> tuple[str, Any]:
    import uvicorn

    sock = listen.bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    while not server.started:
        time.sleep(0.02)
    return f"http://127.0.0.1:{sock.getsockname()[1]}/v1", server


def ask(client: Any, question: str) -> dict[str, Any]:
    """One streamed answer: seconds to the first text, to the end, and what came back."""
    start = time.perf_counter()
    first = None
    text, last = "", None
    for chunk in client.chat.completions.create(
        model="citeqa", messages=[{"role": "user", "content": question}], stream=True
    ):
        piece = chunk.choices[0].delta.content if chunk.choices else None
        if piece and first is None:
            first = time.perf_counter() - start
        text += piece or ""
        last = chunk
    total = time.perf_counter() - start
    extra = (last.model_extra or {}) if last is not None else {}
    return {
        "question": question,
        "first_token_ms": round(1000 * (first if first is not None else total), 1),
        "total_ms": round(1000 * total, 1),
        "abstained": bool(extra.get("abstained")),
        "citations": len(extra.get("citations", [])),
        "chars": len(text),
    }


def summary(values: list[float]) -> dict[str, float]:
    a = np.asarray(values)
    return {
        "p50": round(float(np.percentile(a, 50)), 1),
        "p95": round(float(np.percentile(a, 95)), 1),
        "mean": round(float(a.mean()), 1),
        "max": round(float(a.max()), 1),
    }


def markdown(result: dict[str, Any]) -> str:
    ft, tt = result["first_token_ms"], result["total_ms"]
    load = result["load_average_1min"]
    return "\n".join(
        [
            "# API latency (POST /v1/chat/completions, stream=true)",
            "",
            f"{result['questions']} questions from {result['qa']}, one at a time, "
            f"answerer {result['answerer']}, embedder {result['embedder']}, "
            f"{result['cpus']} CPUs (1-minute load average {load[0]} at the start, {load[1]} "
            f"at the end), citeqa {result['source_version']}.",
            "",
            "| ms | p50 | p95 | mean | max |",
            "|---|---:|---:|---:|---:|",
            f"| first token | {ft['p50']} | {ft['p95']} | {ft['mean']} | {ft['max']} |",
            f"| whole answer | {tt['p50']} | {tt['p95']} | {tt['mean']} | {tt['max']} |",
            "",
            f"Command: `{result['command']}`",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, default=ROOT / ".citeqa/index")
    parser.add_argument("--qa", type=Path, default=ROOT / "eval/qa/corpus_qa.jsonl")
    parser.add_argument("--limit", type=int, default=None, help="Only the first N questions.")
    parser.add_argument("--quick", action="store_true", help="3 questions (smoke test).")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results")
    args = parser.parse_args()
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    import openai

    settings = Settings(index=args.index)
    settings = settings.model_copy(update={"embedder": embedder_spec(settings)})
    service = open_service(settings)
    base_url, server = serve_in_thread(api.create_api(service))
    client = openai.OpenAI(base_url=base_url, api_key="unused", max_retries=0, timeout=600)
    asked = questions(args.qa, 3 if args.quick else args.limit)
    load_before = os.getloadavg()[0]
    try:
        ask(client, asked[0])  # warm-up (first search loads the BM25 and FAISS files), not timed
        rows = []
        for i, question in enumerate(asked, 1):
            rows.append(ask(client, question))
            print(
                f"{i}/{len(asked)} first {rows[-1]['first_token_ms']:.0f} ms, "
                f"total {rows[-1]['total_ms']:.0f} ms: {question[:60]}",
                file=sys.stderr,
            )
    finally:
        server.should_exit = True
    result = {
        "source_version": source_version(),
        "command": "python " + " ".join([f"bench/{Path(__file__).name}", *sys.argv[1:]]),
        "qa": str(args.qa.relative_to(ROOT) if args.qa.is_relative_to(ROOT) else args.qa),
        "questions": len(rows),
        "answerer": service.answerer.name,
        "embedder": settings.embedder,
        "cpus": os.cpu_count(),
        # other work on the machine slows every answer; the 1-minute load says how much
        "load_average_1min": [round(load_before, 1), round(os.getloadavg()[0], 1)],
        "machine": platform.processor() or platform.machine(),
        "first_token_ms": summary([r["first_token_ms"] for r in rows]),
        "total_ms": summary([r["total_ms"] for r in rows]),
        "per_question": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "api_latency.json").write_text(json.dumps(result, indent=2, ensure_ascii=False))
    (args.out / "api_latency.md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
