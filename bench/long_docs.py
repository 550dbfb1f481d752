"""Loading and chunking time against document length, 10 KB to 10 MB: is it linear?

Kinds of document, each written to a file and read back through `load_document`, then cut
by `chunk_document` with the embedder's own token counter (no embedding: that is
bench/ingest.py's subject):
  real-txt      the bundled corpus (Dutch and English news) concatenated until the size
                is reached; each further copy marks its sentences " (n)." so that they are
                not repeats (repeated sentences are skipped, which would flatter the time)
  no-breaks     corpus words in random order without punctuation: one sentence of the
                whole size, the case that was quadratic (the longest-prefix search)
  abbreviations corpus words with "bijv." every few words: one sentence whose every
                period is an abbreviation (the abbreviation check was quadratic)
  real-docx     real-txt's paragraphs as a .docx
  tiny-docx     a .docx of very many one-word paragraphs, each with a style, size counted
                unpacked (the 341 KB / 100 MiB file that hung python-docx)
Each measurement runs in its own process (its peak RSS is its own), stopped after 4 x
--budget seconds; a kind stops growing when even linear growth would pass that.
Results: long_docs.json and long_docs.md in --out.

Usage: python bench/long_docs.py [--sizes 10,100,1000,10000] [--embedders fake:64,e5-small-q4]
       [--before REV] [--before-sizes 10,100] [--quick] [--out bench/results]
`--before REV` also times the chunking and loading code of git revision REV, same inputs.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.provenance import source_version  # noqa: E402

KINDS = ("real-txt", "no-breaks", "abbreviations", "real-docx", "tiny-docx")


def corpus_text() -> str:
    return "\n\n".join(
        p.read_text(encoding="utf-8") for p in sorted((ROOT / "corpus").glob("*.txt"))
    )


def real_text(size: int) -> str:
    base = corpus_text()
    parts: list[str] = []
    length = 0
    while length < size:
        n = len(parts)
        parts.append(base if n == 0 else re.sub(r"\.(\s)", rf" ({n}).\1", base))
        length += len(parts[-1]) + 2
    return "\n\n".join(parts)[:size]


def word_text(size: int, abbreviations: bool) -> str:
    words = [w for w in re.findall(r"[^\W\d_]+", corpus_text()) if len(w) > 1]
    rnd, out, length, i = random.Random(15), [], 0, 0
    while length < size:
        word = rnd.choice(words).lower()
        if abbreviations and i % 6 == 5:
            word += " bijv. " + rnd.choice(words).capitalize()
        out.append(word)
        length += len(word) + 1
        i += 1
    return " ".join(out)[:size]


_W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_CT = "application/vnd.openxmlformats-"
_ML = "officedocument.wordprocessingml"


def write_docx(path: Path, paragraphs: Any, styles: int = 1) -> None:
    """A minimal valid .docx (python-docx opens it) streamed from `paragraphs`."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            f'<Default Extension="rels" ContentType="{_CT}package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/word/document.xml" ContentType="{_CT}{_ML}.document.main+xml"/>'
            f'<Override PartName="/word/styles.xml" ContentType="{_CT}{_ML}.styles+xml"/>'
            "</Types>",
        )
        archive.writestr(
            "_rels/.rels",
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{_R}/officeDocument" Target="word/document.xml"/>'
            "</Relationships>",
        )
        archive.writestr(
            "word/_rels/document.xml.rels",
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{_R}/styles" Target="styles.xml"/></Relationships>',
        )
        archive.writestr(
            "word/styles.xml",
            f"<w:styles {_W}>"
            + "".join(
                f'<w:style w:type="paragraph" w:styleId="S{i}"><w:name w:val="Stijl {i}"/>'
                "</w:style>"
                for i in range(styles)
            )
            + "</w:styles>",
        )
        with archive.open("word/document.xml", "w", force_zip64=True) as member:
            member.write(f"<w:document {_W}><w:body>".encode())
            for i, text in enumerate(paragraphs):
                escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                member.write(
                    f'<w:p><w:pPr><w:pStyle w:val="S{i % styles}"/></w:pPr><w:r>'
                    f'<w:t xml:space="preserve">{escaped}</w:t></w:r></w:p>'.encode()
                )
            member.write(b"</w:body></w:document>")


def make_input(kind: str, size: int, folder: Path) -> Path:
    if kind == "real-txt":
        path = folder / "real.txt"
        path.write_text(real_text(size), encoding="utf-8")
    elif kind in ("no-breaks", "abbreviations"):
        path = folder / f"{kind}.txt"
        path.write_text(word_text(size, kind == "abbreviations"), encoding="utf-8")
    elif kind == "real-docx":
        path = folder / "real.docx"
        write_docx(path, (p for p in real_text(size).split("\n\n") if p.strip()))
    else:  # tiny-docx: `size` counts the unpacked XML, about 100 bytes a paragraph
        path = folder / "tiny.docx"
        write_docx(path, (f"w{i % 10}" for i in range(size // 100)), styles=300)
    return path


def _module_at(revision: str, name: str) -> ModuleType:
    """embeddings/<name>.py as it was at `revision`, loaded under another name."""
    source = subprocess.run(
        ["git", "show", f"{revision}:embeddings/{name}.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = Path(tempfile.mkdtemp(prefix="long-docs-")) / f"{name}_before.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(f"{name}_before", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def measure(path: Path, embedder_name: str, revision: str | None) -> dict[str, Any]:
    """One file: load and chunk it (in this process), with the code of `revision` or now."""
    from embeddings.embedders import load_embedder

    if revision:
        documents, chunking = _module_at(revision, "documents"), _module_at(revision, "chunking")
    else:
        from embeddings import chunking, documents
    embedder = load_embedder(embedder_name)
    count = embedder.count_tokens
    documents.detect_language("warm-up: load the language model before the clock starts")
    from lxml import etree  # noqa: F401  (imported, like the model, outside the timing)

    started = time.perf_counter()
    try:
        doc = documents.load_document(path, max_bytes=2**40)
    except documents.SkipFile as exc:
        return {"skipped": str(exc), "load_s": time.perf_counter() - started}
    loaded = time.perf_counter()
    chunks = chunking.chunk_document(doc, count, 100, 20)
    done = time.perf_counter()
    return {
        "chars": len(doc.text),
        "chunks": len(chunks),
        "load_s": round(loaded - started, 3),
        "chunk_s": round(done - loaded, 3),
        "total_s": round(done - started, 3),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def run_one(path: Path, embedder: str, revision: str | None, budget: float) -> dict[str, Any]:
    command = [sys.executable, __file__, "--measure", str(path), "--embedders", embedder]
    if revision:
        command += ["--before", revision]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=budget * 4, check=False, cwd=ROOT
        )
    except subprocess.TimeoutExpired:
        return {"over_budget": f"stopped after {budget * 4:.0f} s"}
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "?"}
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def markdown(results: dict[str, Any]) -> str:
    lines = [
        "| code | embedder | kind | size KB | file KB | chars | chunks | load s | chunk s "
        "| total s | us per KB | peak RSS MiB |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in results["rows"]:
        if "total_s" in row:
            per_kb = 1e6 * row["total_s"] / max(1, row["size_kb"])
            cells = [
                f"{row['chars']:,}",
                f"{row['chunks']:,}",
                f"{row['load_s']:.2f}",
                f"{row['chunk_s']:.2f}",
                f"{row['total_s']:.2f}",
                f"{per_kb:,.0f}",
                str(row["peak_rss_mib"]),
            ]
        else:
            reason = row.get("skipped") or row.get("over_budget") or row.get("error")
            cells = [f"not measured: {reason}", "", "", "", "", "", ""]
        lines.append(
            f"| {row['code']} | {row['embedder']} | {row['kind']} | {row['size_kb']:,} | "
            f"{row['file_kb']:,} | " + " | ".join(cells) + " |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10,100,1000,10000", help="KB, comma-separated")
    parser.add_argument("--embedders", default="fake:64,e5-small-q4")
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--before", help="also time this git revision's loading and chunking")
    parser.add_argument("--before-sizes", help="KB; sizes for --before [default: --sizes]")
    parser.add_argument("--budget", type=float, default=120.0, help="seconds; stop a kind after")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, fake embedder (CI)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results", help="a folder")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.embedders, args.before)))
        return
    if args.quick:
        args.sizes, args.embedders = "10,20", "fake:64"
    sizes = [int(s) for s in args.sizes.split(",")]
    before_sizes = [int(s) for s in (args.before_sizes or args.sizes).split(",")]
    codes = [None, args.before] if args.before else [None]
    results: dict[str, Any] = {
        "source_version": source_version(),
        "machine": f"{platform.machine()}, {platform.python_version()}",
        "note": "load_document + chunk_document (100 tokens, overlap 20), no embedding; "
        "shared 2-core machine: times are indicative, the growth with size is the point",
        "rows": [],
    }
    with tempfile.TemporaryDirectory(prefix="long-docs-") as tmp:
        folder = Path(tmp)
        for embedder in args.embedders.split(","):
            for kind in args.kinds.split(","):
                for code in codes:
                    chosen = sizes if code is None or not args.before_sizes else before_sizes
                    for number, size in enumerate(chosen):
                        path = make_input(kind, size * 1000, folder)
                        row = {
                            "code": code or "now",
                            "embedder": embedder,
                            "kind": kind,
                            "size_kb": size,
                            "file_kb": round(path.stat().st_size / 1000),
                        }
                        row.update(run_one(path, embedder, code, args.budget))
                        results["rows"].append(row)
                        print(json.dumps(row), flush=True)
                        # the next size, were it only linear, would run out of time
                        later = chosen[number + 1 :]
                        took = row.get("total_s", args.budget * 4)
                        if later and took * later[0] / size > args.budget * 4:
                            results["rows"].append(
                                {
                                    **{k: row[k] for k in ("code", "embedder", "kind")},
                                    "size_kb": later[0],
                                    "file_kb": 0,
                                    "over_budget": f"not run ({size:,} KB took {took:.0f} s)",
                                }
                            )
                            break
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "long_docs.json").write_text(json.dumps(results, indent=1) + "\n")
    (args.out / "long_docs.md").write_text(markdown(results))


if __name__ == "__main__":
    main()
