"""Wall time of `citeqa search`, `ask` and `index` from process start, on a one-chunk index:
the first run (nothing compiled yet), the runs after it (the compiled-model cache in the
index), the same with the cache off, and, with `--baseline REV`, the code of another commit
(a git worktree run with this venv) in the same session. Runs are interleaved, so a busy
machine's load falls on every condition alike. Writes bench/results/startup.{json,md}.

Usage: python bench/startup.py [--repeat 5] [--baseline 5d483a6]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEXT = "De minister schreef over Gaza en de humanitaire hulp aan de bevolking."
COMMANDS = {
    "search": ["search", "Gaza", "--index", "{index}"],
    "ask": ["ask", "Waar schreef de minister over?", "--index", "{index}"],
    "index": ["index", "{docs}", "--index", "{index}"],  # a new sentence each run
}


def run(code: Path, argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; sys.argv[0] = 'citeqa'; from frontends import cli; cli.main()",
            *argv,
        ],
        cwd=code,
        env={**env, "PYTHONPATH": str(code)},
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise SystemExit(f"{argv} failed in {code}:\n{done.stderr}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--baseline", help="a commit to time beside this tree")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/startup.json")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="citeqa-startup-"))
    codes = {"this tree": ROOT}
    if args.baseline:
        base = work / "baseline"
        subprocess.run(
            ["git", "worktree", "add", "-q", "--detach", str(base), args.baseline],
            cwd=ROOT,
            check=True,
        )
        codes[f"baseline {args.baseline}"] = base
    conditions = {}  # name -> (code, env override)
    for label, code in codes.items():
        conditions[f"{label}, cache off"] = (code, {"CITEQA_COMPILED_CACHE": "false"})
    conditions["this tree, cache warm"] = (ROOT, {})
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITEQA_")}
    folders = {}
    for name in conditions:
        folder = work / str(len(folders))
        (folder / "docs").mkdir(parents=True)
        (folder / "docs" / "0.txt").write_text(TEXT)
        folders[name] = folder
    times: dict[str, dict[str, list[float]]] = {n: {c: [] for c in COMMANDS} for n in conditions}
    first: dict[str, float] = {}
    try:
        for name, (code, extra) in conditions.items():  # builds each index: the first run
            argv = [
                a.format(index=folders[name] / "index", docs=folders[name] / "docs")
                for a in COMMANDS["index"]
            ]
            first[name] = run(code, argv, {**env, **extra})
        fresh = work / "fresh"
        (fresh / "docs").mkdir(parents=True)
        (fresh / "docs" / "0.txt").write_text(TEXT)
        run(ROOT, ["index", str(fresh / "docs"), "--index", str(fresh / "index")], env)
        shutil.rmtree(fresh / "index" / "cache")  # a first search: the index exists, no cache
        first_search = run(ROOT, ["search", "Gaza", "--index", str(fresh / "index")], env)
        loads = []
        for round_ in range(args.repeat):
            loads.append(os.getloadavg()[0])
            for command, template in COMMANDS.items():
                for name, (code, extra) in conditions.items():
                    folder = folders[name]
                    if command == "index":
                        (folder / "docs" / f"{round_ + 1}.txt").write_text(f"{TEXT} ({round_})")
                    argv = [
                        a.format(index=folder / "index", docs=folder / "docs") for a in template
                    ]
                    times[name][command].append(run(code, argv, {**env, **extra}))
    finally:
        if args.baseline:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(work / "baseline")],
                cwd=ROOT,
                check=False,
            )
        shutil.rmtree(work, ignore_errors=True)
    result = {
        "repeat": args.repeat,
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in loads],
        "first_index_s": {n: round(t, 2) for n, t in first.items()},
        "first_search_s (index built, no cache yet)": round(first_search, 2),
        "median_s": {
            n: {c: round(statistics.median(t), 2) for c, t in by.items()} for n, by in times.items()
        },
        "min_s": {n: {c: round(min(t), 2) for c, t in by.items()} for n, by in times.items()},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    lines = [
        f"# Start-up: wall seconds from process start, one-chunk index, median of {args.repeat}",
        "",
        f"Load average during the runs: {result['load_average']}.",
        "",
        "| condition | " + " | ".join(f"`citeqa {c}`" for c in COMMANDS) + " |",
        "|---|" + "---|" * len(COMMANDS),
    ]
    for name, by in result["median_s"].items():
        lines.append(f"| {name} | " + " | ".join(f"{by[c]:.2f}" for c in COMMANDS) + " |")
    lines += [
        "",
        f"First `citeqa index` of a new index: {result['first_index_s']}.",
        "First `citeqa search` on an index without a cache (it compiles and writes it): "
        f"{result['first_search_s (index built, no cache yet)']} s.",
        "",
        "Command: `python bench/startup.py"
        + (f" --baseline {args.baseline}" if args.baseline else "")
        + f" --repeat {args.repeat}`",
    ]
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
