"""What the trained reader costs an extractive ask: the ask's latency with and without it
(p50 and p95 over the QA set's questions, same index, same process, alternating), the
reader's load time (weights checked, graph compiled) and the memory it adds.

  python bench/reader_cost.py --index DIR [--rounds 2]

Writes bench/results/reader_cost.json. Run it on an otherwise idle machine: the figures in
the README came from 2 cores with nothing else running.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from eval.datasets import load_dataset  # noqa: E402
from eval.runner import index_documents  # noqa: E402
from qa.factory import load_reader, open_service  # noqa: E402
from qa.settings import Settings  # noqa: E402

OUT = ROOT / "bench/results/reader_cost.json"


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    settings = index_documents(ROOT / "corpus", args.index, Settings(index=args.index), False)
    off = settings.model_copy(
        update={"answer": settings.answer.model_copy(update={"reader": False})}
    )
    without = open_service(off)
    questions = [
        q.text for q in load_dataset(ROOT / "eval/qa/corpus_qa.jsonl").queries if not q.after
    ]
    without.ask(questions[0])  # the embedder and the background warmed up
    before = rss_mib()
    started = time.perf_counter()
    reader = load_reader(settings)
    load_s = time.perf_counter() - started
    assert reader is not None, "the reader needs the fast extra (OpenVINO or ONNX Runtime)"
    with_reader = open_service(settings, without.retriever)
    with_reader.reader = reader
    started = time.perf_counter()
    with_reader.ask(questions[0])
    first_s = time.perf_counter() - started
    after = rss_mib()
    times: dict[str, list[float]] = {"without": [], "with": []}
    for _ in range(args.rounds):
        for q in questions:
            for name, service in (("without", without), ("with", with_reader)):
                started = time.perf_counter()
                service.ask(q)
                times[name].append(time.perf_counter() - started)

    def pct(xs: list[float], p: float) -> float:
        return round(1000 * sorted(xs)[min(len(xs) - 1, int(p * len(xs)))], 1)

    result = {
        "questions": len(questions),
        "rounds": args.rounds,
        "backend": reader.backend,
        "reader_load_s": round(load_s, 2),
        "first_ask_with_reader_s": round(first_s, 2),
        "reader_rss_mib": round(after - before, 1),
        "ask_ms": {
            name: {
                "p50": pct(xs, 0.5),
                "p95": pct(xs, 0.95),
                "mean": round(1000 * statistics.mean(xs), 1),
            }
            for name, xs in times.items()
        },
    }
    result["reader_adds_ms_p50"] = round(
        result["ask_ms"]["with"]["p50"] - result["ask_ms"]["without"]["p50"], 1
    )
    OUT.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
