"""Ingest bombs (issue 26): how long reading each takes, and its peak memory, as an upload
reads it (`load_document` with the upload limit of 20 MiB). Each bomb is read in a child
process of its own, killed at --timeout; its peak RSS comes from the kernel (wait4).

Not measured here: chunking and embedding (a refused file has none), nor the upload lock,
which since issue 26 is not held while a file is read (tests/test_app.py checks that).

Usage: python bench/ingest_bombs.py [--timeout 300] [--out bench/results/ingest_bombs.json]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.helpers import write_docx_bomb, write_pdf_bomb  # noqa: E402

BOMBS = {
    "pdf, 50 pages sharing one content stream": lambda p: write_pdf_bomb(p / "b50.pdf", 50),
    "pdf, 10,000 pages sharing one content stream": lambda p: write_pdf_bomb(
        p / "b10k.pdf", 10_000
    ),
    "docx, 7.7 M tiny paragraphs": lambda p: write_docx_bomb(p / "tiny.docx", 7_700_000),
}

_CHILD = """
import sys
from pathlib import Path
from embeddings.documents import SkipFile, load_document
from frontends.web.backend import MAX_UPLOAD_BYTES
try:
    doc = load_document(Path(sys.argv[1]), max_bytes=MAX_UPLOAD_BYTES)
    print(f"accepted: {len(doc.text):,} characters")
except SkipFile as exc:
    print(f"refused: {exc}")
"""


def measure(path: Path, timeout: float) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(path)], stdout=subprocess.PIPE, text=True, env=env
    )
    deadline = started + timeout
    while True:
        pid, _status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            child.send_signal(signal.SIGKILL)
            _pid, _status, usage = os.wait4(child.pid, 0)
            break
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    out = child.stdout.read().strip() if child.stdout else ""
    return {
        "file_bytes": path.stat().st_size,
        "seconds": round(seconds, 2),
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),  # ru_maxrss is in KiB on Linux
        "outcome": out or f"killed at the {timeout:g} s timeout",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/ingest_bombs.json")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, build in BOMBS.items():
            path = build(Path(tmp))
            results[name] = measure(path, args.timeout)
            r = results[name]
            print(
                f"{name}: {r['file_bytes']:,} bytes, {r['seconds']} s, "
                f"peak {r['peak_rss_mib']} MiB; {r['outcome']}",
                flush=True,
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"cpus": os.cpu_count(), "bombs": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
