"""bench/llm_language.py: its figures by hand, its GGUF reader on a file written here, and the
whole script end to end against a scripted OpenAI-compatible server (and, slow, the real
llama.cpp server with SmolLM2)."""

from __future__ import annotations

import importlib
import importlib.util
import json
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent

QUESTIONS = [
    {
        "id": "t1",
        "question": "Hoeveel geeft Nederland extra aan het Rode Kruis?",
        "lang": "nl",
        "answerable": True,
        "gold_sources": ["nl_hulp.txt"],
        "evidence": [{"source": "nl_hulp.txt", "text": "3 miljoen euro"}],
        "answers": ["3 miljoen euro"],
    },
    {
        "id": "t2",
        "question": "How much extra does the Netherlands give to the Red Cross?",
        "lang": "en",
        "answerable": True,
        "gold_sources": ["nl_hulp.txt"],
        "evidence": [{"source": "nl_hulp.txt", "text": "3 miljoen euro"}],
        "answers": ["3 million euros"],
    },
    {
        "id": "t3",
        "question": "How many hours can a cat sleep?",
        "lang": "en",
        "answerable": True,
        "gold_sources": ["en_cats.txt"],
        "evidence": [{"source": "en_cats.txt", "text": "sixteen hours"}],
        "answers": ["sixteen hours"],
    },
    {
        "id": "t4",
        "question": "Wie won het WK voetbal van 2022?",
        "lang": "nl",
        "answerable": False,
        "gold_sources": [],
        "evidence": [],
        "answers": [],
    },
]

# Always Dutch, whatever the question's language: the figures must show that.
DUTCH = "Nederland geeft een extra bijdrage van 3 miljoen euro aan het Rode Kruis. [1]"
REFUSAL = "De documenten bevatten geen antwoord op deze vraag."


def _bench() -> ModuleType:
    sys.path.insert(0, str(ROOT / "bench"))  # its sibling `provenance`, as when run as a script
    spec = importlib.util.spec_from_file_location("llm_language", ROOT / "bench/llm_language.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["llm_language"] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return _bench()


class ScriptedOpenAI(BaseHTTPRequestHandler):
    """/v1/chat/completions, streamed as OpenAI does: Dutch with [1], or a refusal for WK."""

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        ScriptedOpenAI.requests.append(body)
        prompt = body["messages"][-1]["content"]
        reply = REFUSAL if "WK voetbal" in prompt else DUTCH
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for i, word in enumerate(reply.split(" ")):
            chunk = {
                "id": "x",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "delta": {"content": (" " if i else "") + word},
                        "finish_reason": None,
                    }
                ],
            }
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")

    requests: list[dict[str, Any]] = []  # noqa: RUF012 (one scripted server per test module)


@pytest.fixture
def scripted_server() -> Iterator[str]:
    ScriptedOpenAI.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), ScriptedOpenAI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()


def _run(out: Path, *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "bench/llm_language.py", "--out", str(out), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert (out / "llm_language.md").read_text().strip()
    return dict(json.loads((out / "llm_language.json").read_text()))


@pytest.mark.slow  # the benchmark end to end: its own server process and a full run
def test_end_to_end_against_a_scripted_server(
    bench: ModuleType, scripted_server: str, small_index: Path, tmp_path: Path
) -> None:
    qa = tmp_path / "qa.jsonl"
    qa.write_text("\n".join(json.dumps(q) for q in QUESTIONS) + "\n")
    result = _run(
        tmp_path / "out",
        *("--index", str(small_index), "--qa", str(qa), "--base-url", scripted_server),
        *("--alias", "scripted", "--prompt", "citeqa,language-last", "--max-tokens", "64"),
    )
    assert [(r["model"], r["prompt"]) for r in result["runs"]] == [
        ("scripted", "citeqa"),
        ("scripted", "language-last"),
    ]
    assert len(ScriptedOpenAI.requests) == 8
    assert all(r["max_tokens"] == 64 and r["stream"] for r in ScriptedOpenAI.requests)
    last = [r["messages"][-1]["content"] for r in ScriptedOpenAI.requests]
    assert sum(m.endswith("Answer in English, with [n] markers:") for m in last) == 2
    figures = result["runs"][0]["figures"]
    assert set(figures) == {
        "all",
        "question en",
        "question nl",
        "pair en→en",
        "pair en→nl",
        "pair nl→nl",
        "pair nl→none",
    }
    # Dutch replies: right for the two Dutch questions, wrong for the two English ones
    assert figures["question nl"]["in_question_language"] == 1.0
    assert figures["question en"]["in_question_language"] == 0.0
    assert figures["all"]["in_question_language"] == 0.5
    # the refusal needs no marker; the three answers each carry a valid [1]
    assert figures["all"]["markers_valid"] == 1.0
    assert figures["all"]["refused_in_words"] == 0.25
    assert figures["all"]["abstained_unanswerable"] == 1.0
    # the same Dutch sentence cites [1] for every question: only the Red Cross question's
    # passage holds it, so the support check refuses the other two answerable ones
    assert figures["all"]["abstained_answerable"] == round(2 / 3, 3)
    assert figures["pair nl→nl"]["answer_accuracy"] == 1.0
    assert figures["pair en→nl"]["answer_accuracy"] == 0.0  # "3 million euros" is not there
    assert 0.0 <= figures["all"]["citations_supported"] <= 1.0
    assert 0 < figures["all"]["latency_p50_s"] <= figures["all"]["latency_p95_s"]
    answers = {a["qid"]: a for a in result["runs"][0]["answers"]}
    assert answers["t2"]["pair"] == "en→nl" and answers["t2"]["answer_lang"] == "nl"
    assert answers["t4"]["abstained"] and answers["t4"]["markers"] == 0
    assert figures["all"]["echoed_prompt"] == 0.0
    rescored = bench.rescore(tmp_path / "out/llm_language.json")
    assert rescored["runs"][0]["figures"] == figures  # same judgement, same figures


def test_bad_arguments_are_one_line_errors(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "bench/llm_language.py", "--index", str(tmp_path), "--models", "gpt9"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2 and "unknown: gpt9" in done.stderr


def test_figures_by_hand(bench: ModuleType) -> None:
    figures = importlib.import_module("llm_figures")  # bench/, on the path since `bench`
    assert figures.percentile([3.0, 1.0, 2.0, 4.0], 50) == 2.0
    assert figures.percentile([3.0, 1.0, 2.0, 4.0], 95) == 4.0
    assert figures.percentile([], 50) is None
    assert bench.pair("en", ["nl", "nl"]) == "en→nl"
    assert bench.pair("nl", ["nl", "en"]) == "nl→mixed"
    assert bench.pair("nl", []) == "nl→none"
    assert (
        bench.answer_language("Nederland geeft 3 miljoen euro aan het Rode Kruis. [1][2]") == "nl"
    )
    assert bench.answer_language("The Netherlands gives 3 million euros to the Red Cross. [1]") == (
        "en"
    )
    assert bench.echoes_prompt("You are citeqa, a careful assistant that answers questions [1]")
    assert bench.echoes_prompt('Vraag <passage id="1" title="x">')
    assert not bench.echoes_prompt("The Netherlands gives 3 million euros to the Red Cross. [1]")
    rows = [{"id": i, "lang": "en" if i < 6 else "nl", "answerable": i % 3 > 0} for i in range(9)]
    assert [r["id"] for r in bench.spread(rows, 4)] == [0, 1, 6, 7]
    assert [r["id"] for r in bench.spread(rows, 5)] == [0, 1, 6, 7, 3]
    assert bench.spread(rows, None) == rows
    record = {**dict.fromkeys(figures.Record.__dataclass_fields__), "echoed_prompt": False}
    rows = [
        figures.Record(**{**record, **r})
        for r in (
            dict(qid="a", lang="en", answerable=True, pair="en→nl", raw="x [1]", text="x [1]",
                 abstained=False, refused_in_words=False, answer_lang="en", markers=1,
                 markers_valid=True, citations=2, supported=1, citations_on_evidence=2,
                 correct=True, latency_s=1.0, first_token_s=0.5),
            dict(qid="b", lang="en", answerable=True, pair="en→nl", raw="y [9]", text="y",
                 abstained=True, refused_in_words=False, answer_lang="nl", markers=1,
                 markers_valid=False, citations=0, supported=0, citations_on_evidence=0,
                 correct=False, latency_s=3.0, first_token_s=None),
        )
    ]  # fmt: skip
    figures = figures.summarize(rows)
    assert figures["in_question_language"] == 0.5
    assert figures["markers_valid"] == 0.5
    assert figures["citations_supported"] == 0.5
    assert figures["citations_on_evidence"] == 1.0
    assert figures["abstained_answerable"] == 0.5
    assert figures["abstained_unanswerable"] is None
    assert figures["answer_accuracy"] == 0.5
    assert (figures["latency_p50_s"], figures["latency_p95_s"]) == (1.0, 3.0)


def _gguf(path: Path, fields: list[tuple[str, int, bytes]]) -> Path:
    def string(s: str) -> bytes:
        return struct.pack("<Q", len(s.encode())) + s.encode()

    body = b"GGUF" + struct.pack("<IQQ", 3, 0, len(fields))
    for key, kind, value in fields:
        body += string(key) + struct.pack("<I", kind) + value
    path.write_bytes(body + b"\0" * 32)
    return path


def test_gguf_header_is_read_as_written(bench: ModuleType, tmp_path: Path) -> None:
    models = importlib.import_module("llm_models")  # bench/, on the path since `bench`

    def string(s: str) -> bytes:
        return struct.pack("<Q", len(s.encode())) + s.encode()

    path = _gguf(
        tmp_path / "m.gguf",
        [
            ("general.name", 8, string("Tiny 1M")),
            ("general.finetune", 8, string("instruct")),
            ("tiny.context_length", 4, struct.pack("<I", 2048)),
            ("general.languages", 9, struct.pack("<IQ", 8, 2) + string("en") + string("nl")),
            ("tokenizer.scores", 9, struct.pack("<IQ", 6, 20) + struct.pack("<20f", *range(20))),
            ("tokenizer.chat_template", 8, string("{{ messages }}")),
            ("general.flag", 7, struct.pack("<?", True)),
        ],
    )
    meta = models.gguf_metadata(path)
    assert meta["general.name"] == "Tiny 1M"
    assert meta["general.languages"] == ["en", "nl"]
    assert meta["tokenizer.scores"] == "<20 values>"
    assert meta["general.flag"] is True
    card = models.model_card(path)
    assert card["finetune"] == "instruct" and card["context_length"] == 2048
    assert card["chat_template"] is True
    (tmp_path / "x.bin").write_bytes(b"PK\x03\x04 not a model")
    with pytest.raises(ValueError, match="not a GGUF"):
        models.gguf_metadata(tmp_path / "x.bin")


@pytest.mark.slow
@pytest.mark.llm
def test_quick_run_with_the_real_smollm2_server(small_index: Path, tmp_path: Path) -> None:
    result = _run(
        tmp_path / "out",
        *("--index", str(small_index), "--models", "smollm2", "--quick"),
        *("--models-dir", str(tmp_path / "models")),
    )
    (run,) = result["runs"]
    assert run["model_card"]["chat_template"] and run["model_card"]["architecture"] == "llama"
    figures = run["figures"]["all"]
    assert figures["questions"] == 4 and run["load_s"] > 0
    assert all(a["raw"] for a in run["answers"]), "every question got some text from the model"
    assert 0 < figures["latency_p50_s"] <= figures["latency_p95_s"]
