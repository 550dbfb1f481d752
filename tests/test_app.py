"""The UI without a browser: inert rendering, readable names, the upload backend's checks, the
event-to-chat translation, and the named API driven with gradio_client on loopback."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app import create_app
from citeqa.settings import ChunkingConfig, IndexingConfig
from embeddings.embedders import FakeEmbedder
from embeddings.errors import BadInput
from embeddings.indexer import index_paths
from embeddings.store import Index
from frontends.web.backend import MAX_UPLOAD_BYTES, Backend, Upload, display_name, safe_upload_name
from frontends.web.chat_ui import render_answer, render_conversation, render_document
from frontends.web.views import (
    ANSWERING,
    SEARCHING,
    answer_view,
    history_of,
    load_turns,
    plain_text,
    stopped_view,
    stream_to_chat,
)
from qa.answer import Answer, Delta, Done, Retrieved
from qa.answering import ExtractiveAnswerer
from qa.citations import Citation, CitationChecker, Claim
from qa.retrieval import Retriever
from qa.service import QAService
from tests.helpers import free_port, write_pdf

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'
REMOTE = "![beacon](http://198.51.100.7/beacon.png?leak=1) see [site](https://example.org/x)"


def citation(
    passage: str,
    quote: str,
    supported: bool = True,
    n: int = 1,
    spans: tuple[tuple[int, int], ...] = (),
    title: str = "Title <b>",
    source: str = "/data/doc.txt",
) -> Citation:
    start = passage.index(quote)
    return Citation(
        n,
        "d",
        source,
        title,
        "c",
        "nl",
        quote,
        1000 + start,
        1000 + start + len(quote),
        supported,
        passage,
        1000,
        spans,
    )


def answer(text: str, citations: list[Citation], claims: list[Claim] | None = None) -> Answer:
    return Answer("q", "q", "en", text, not citations, citations, claims or [])


def service_for(index: Path, embedder: FakeEmbedder) -> QAService:
    retriever = Retriever(Index(index), embedder)
    return QAService(retriever, ExtractiveAnswerer(embedder), CitationChecker(embedder))


# --- rendering ------------------------------------------------------------------------------


def test_citation_highlights_the_quote_and_escapes_document_html() -> None:
    passage = f"Intro {XSS}. Nederland geeft 3 miljoen euro. Slot."
    c = citation(passage, "Nederland geeft 3 miljoen euro.")
    html = render_answer(answer_view("q", answer("Het is 3 miljoen euro. [1]", [c])))
    assert "<mark>Nederland geeft 3 miljoen euro.</mark>" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<img" not in html and "Title &lt;b&gt;" in html


def test_every_quoted_sentence_is_highlighted() -> None:
    passage = "Eerste zin. Tweede zin hier. Derde zin daar. Slot."
    second, third = passage.index("Tweede"), passage.index("Derde")
    spans = ((1000 + second, 1000 + second + 16), (1000 + third, 1000 + third + 15))
    c = citation(passage, "Tweede zin hier.", spans=spans)
    html = render_answer(answer_view("q", answer("Twee zinnen. [1]", [c])))
    assert "<mark>Tweede zin hier.</mark>" in html and "<mark>Derde zin daar.</mark>" in html
    assert "<mark>Eerste" not in html and "<mark>Slot" not in html


def test_markers_link_to_their_source_and_unknown_markers_stay_text() -> None:
    c = citation("It rained on Monday.", "It rained on Monday.", n=1)
    html = render_answer(answer_view("q", answer("It rained. [1] It was cold. [2]", [c])), "t0")
    assert "<a class='citeqa-marker' href='#t0-s1' data-source='t0-s1'" in html
    assert "id='t0-s1'" in html
    assert " [2]" in html and "href='#t0-s2'" not in html  # no source 2: plain text


def test_unsupported_sentences_are_marked() -> None:
    view = answer_view(
        "q",
        answer(
            "It is 40 degrees. [1]",
            [citation("It was 12 degrees.", "It was 12 degrees.", supported=False)],
            [Claim("It is 40 degrees.", (1,), False)],
        ),
    )
    html = render_answer(view)
    assert "class='citeqa-unsupported'" in html and "not supported" in html


def test_related_passages_of_an_abstention_are_not_sources(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    abstained = answer("I cannot answer that from the documents.", [])
    related = [{"source": "/d/004_95cba6cae27483a5.txt", "title": "Kamer", "text": "Iets anders."}]
    monkeypatch.setattr(Answer, "as_json", lambda self: {"related": related})
    html = render_answer(answer_view("q", abstained))
    assert "Related passages" in html and "Iets anders." in html
    assert "Sources" not in html and "citeqa-source" not in html


def _related_items(related: list[dict[str, str]]) -> list[dict[str, Any]]:
    """Each related entry as the parts a reader sees: its title, file line and snippets."""
    from html.parser import HTMLParser

    items: list[dict[str, Any]] = []

    class Collect(HTMLParser):
        where = ""

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            cls = dict(attrs).get("class") or ""
            if tag == "li":
                items.append({"title": "", "files": "", "snippets": []})
            elif items and tag == "b":
                self.where = "title"
            elif items and "citeqa-meta" in cls:
                self.where = "files"
            elif items and "citeqa-snippet" in cls:
                items[-1]["snippets"].append("")
                self.where = "snippet"

        def handle_endtag(self, tag: str) -> None:
            self.where = ""

        def handle_data(self, data: str) -> None:
            if self.where == "snippet":
                items[-1]["snippets"][-1] += data
            elif self.where:
                items[-1][self.where] += data

    view = {**answer_view("q", answer("Not answered.", [])), "related": related}
    Collect().feed(render_answer(view))
    return items


def test_the_document_viewer_marks_the_span_and_keeps_markup_inert() -> None:
    text = f"Kop {XSS}. " + "Eerst iets anders. " * 10 + "Het geciteerde stuk." + " Einde."
    start = text.index("Het geciteerde")
    shown = render_document(f"Doc {XSS}", text, start, start + 20, page=3)
    assert XSS not in shown and "&lt;script&gt;" in shown
    assert "<mark class='citeqa-cited'>Het geciteerde stuk.</mark>" in shown
    assert "page 3" in shown and f"characters {start}–{start + 20} of {len(text)}" in shown
    assert "… " not in shown  # short: all of it, nothing cut
    # offsets out of range are clamped, not an error
    assert "<mark class='citeqa-cited'></mark>" in render_document("d", "abc", 9, 12)


def test_related_passages_are_a_clean_list() -> None:
    words = "In dat kader heeft het kabinet sinds 7 oktober twee vergunningen verleend " * 6
    related = [
        {"source": "/d/004_95cba6cae27483a5.txt", "title": "Reactie op verzoek", "text": words},
        {"source": "/d/004_95cba6cae27483a5.txt", "title": "Reactie op verzoek", "text": "Kort."},
        {"source": "/d/004_95cba6cae27483a5.txt", "title": "Reactie op verzoek…", "text": "Kort."},
        {"source": "/d/weather.md", "title": "Weather <b>report</b>", "text": "It rained."},
    ]
    items = _related_items(related)
    assert [i["title"] for i in items] == ["Reactie op verzoek", "Weather <b>report</b>"]
    # the file name on the title's line, apart from the text, never glued to it
    assert items[0]["files"] == "· 004_95cba6cae27483a5.txt" and items[1]["files"] == "· weather.md"
    long, short = items[0]["snippets"]
    assert short == "Kort."  # the same passage twice is shown once
    assert long.endswith("…") and len(long) <= 240
    assert words.startswith(long[:-1]) and words[len(long) - 1] == " "  # cut at a word end


def test_remote_images_and_links_from_documents_and_models_stay_text() -> None:
    passage = f"Kop. {REMOTE}. Einde."
    c = citation(passage, "Einde.", title=REMOTE)
    view = answer_view("q", answer(f"{REMOTE} <img src='http://198.51.100.7/a.png'> [1]", [c]))
    tags = _tags(render_conversation([view]))
    assert {t for t, _ in tags} <= {
        "div",
        "p",
        "a",
        "b",
        "span",
        "mark",
        "details",
        "summary",
        "blockquote",
        "button",
    }
    for _, attrs in tags:
        assert "src" not in attrs and "style" not in attrs
        assert attrs.get("href", "#").startswith("#")


def _tags(html: str) -> list[tuple[str, dict[str, str]]]:
    """Every start tag with its attributes, as a browser's parser would see them."""
    from html.parser import HTMLParser

    found: list[tuple[str, dict[str, str]]] = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found.append((tag, {k: v or "" for k, v in attrs}))

    Collect().feed(html)
    return found


def _attributes(html: str, name: str) -> list[str]:
    return [attrs[name] for _, attrs in _tags(html) if name in attrs]


def test_copy_text_and_aria_labels_hold_no_markup() -> None:
    c = citation(f"A {XSS} passage. The quote.", "The quote.")
    view = answer_view("What <b>now</b>?", answer("The quote. [1]", [c]))
    text = plain_text(view)
    assert text.startswith("The quote. [1]") and "Sources:" in text and "<mark>" not in text
    html = render_conversation([view])
    labels = _attributes(html, "aria-label")
    # the label is text (the question's "<b>" is what was typed), never our markup, and short:
    # the answer's start and its number of sources, not the whole answer and its sources
    assert labels[:2] == ["Question: What <b>now</b>?", "Answer: The quote. [1], 1 source"]
    assert _attributes(html, "data-plain") == [text]


def test_an_answers_aria_label_is_short() -> None:
    long = "It rained on Monday in the whole of the country, from Groningen to Maastricht. " * 8
    c = citation(long, long.strip())
    view = answer_view("q", answer(long + " [1]", [c]))
    label = _attributes(render_conversation([view]), "aria-label")[1]
    assert len(label) < 120 and label.endswith("…, 1 source") and "Sources" not in label
    refused = answer_view("q", answer("The documents do not answer this.", []))
    assert _attributes(render_conversation([refused]), "aria-label")[1].endswith(
        "not answered by the documents"
    )


def test_stored_turns_round_trip_and_hostile_values_are_dropped() -> None:
    c = citation("It rained on Monday.", "It rained on Monday.")
    view = answer_view("Did it rain?", answer("It rained on Monday. [1]", [c]))
    assert load_turns([view]) == [view]
    hostile: list[Any] = [
        "text",
        {"question": 3},
        {"question": "q", "citations": [{"n": "1", "spans": [[0, "x"]]}, 7], "error": 5},
    ]
    turns = load_turns(hostile)
    assert len(turns) == 1 and turns[0]["citations"][0]["n"] == 0
    assert load_turns({"not": "a list"}) == []
    assert history_of([view]) == [("Did it rain?", "It rained on Monday. [1]")]


def test_a_stopped_question_stays_with_a_retry_and_stays_out_of_the_history() -> None:
    c = citation("It rained on Monday.", "It rained on Monday.")
    done = answer_view("Did it rain?", answer("It rained on Monday. [1]", [c]))
    stopped = stopped_view(f"And {XSS}?", "It was <b>dry")
    turns = load_turns([done, stopped])
    assert turns == [done, stopped]  # kept in the browser as it was
    html = render_conversation(turns)
    assert "citeqa-stopped" in html and "citeqa-retry" in html and "Stopped" in html
    assert XSS not in html and "<b>dry" not in html and "It was &lt;b&gt;dry" in html
    assert history_of(turns) == [("Did it rain?", "It rained on Monday. [1]")]
    assert "stopped" not in load_turns([{**done, "stopped": "yes"}])[0]


@pytest.mark.parametrize(
    ("title", "source", "shown"),
    [
        ("Weather report", "/d/en_weather.md", "Weather report"),
        (
            "De Israëlische premier Benjamin Netanyahu heeft verklaard dat zijn land openstaat…",
            "/d/netanyahu.txt",
            "netanyahu.txt",
        ),
        (
            "It rained in Amsterdam on Monday and the temperature was twelve degrees.",
            "/d/report.txt",
            "report.txt",
        ),
        ("Kamerstukken", "/d/004_95cba6cae27483a5.txt", "Kamerstukken"),
    ],
)
def test_readable_source_names(title: str, source: str, shown: str) -> None:
    assert display_name(title, source) == shown


def test_a_hash_file_name_with_a_sentence_title_shows_both() -> None:
    name = display_name(
        "Nu de Verenigde Staten de druk hebben opgevoerd, lijkt een staakt-het-vuren dichterbij…",
        "/c/001_680d72be5adecebd.txt",
    )
    assert name.startswith("Nu de Verenigde Staten") and name.endswith("(001_680d72be5adecebd.txt)")


def test_stream_to_chat_shows_searching_then_answering_then_the_turn() -> None:
    c = citation("It rained on Monday.", "It rained on Monday.")
    done = answer("It rained on Monday. [1]", [c])
    events = [Retrieved("q", "q", []), Delta("It rained"), Delta(" on Monday. [1]"), Done(done)]
    states = list(stream_to_chat("Did it rain?", events))
    assert [s.status for s in states] == [SEARCHING, ANSWERING, ANSWERING, ANSWERING, ""]
    assert states[3].text == "It rained on Monday. [1]"
    assert states[-1].view is not None and states[-1].view["question"] == "Did it rain?"
    assert states[1].searched == "q" == states[-1].searched


# --- upload names and the backend ---------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["../../etc/passwd.txt", "/etc/passwd.txt", "..\\..\\win.txt", "ok.txt"]
)
def test_upload_names_stay_plain(name: str) -> None:
    cleaned = safe_upload_name(name)
    assert "/" not in cleaned and "\\" not in cleaned and not cleaned.startswith(".")


@pytest.mark.parametrize("name", ["..", ".hidden.txt", "tool.exe", "archive.zip", ""])
def test_bad_upload_names_are_refused(name: str) -> None:
    with pytest.raises(BadInput):
        safe_upload_name(name)


def test_names_that_clean_to_the_same_name_stay_apart() -> None:
    assert safe_upload_name("a<b.txt") != safe_upload_name("a>b.txt")
    assert safe_upload_name("plain name.txt") == "plain name.txt"


def test_upload_and_remove_through_the_backend(
    small_index: Path, fake_embedder: FakeEmbedder, tmp_path: Path
) -> None:
    service = service_for(small_index, fake_embedder)
    backend = Backend(service, "fake:64")
    upload = tmp_path / "incoming" / "molen.txt"
    upload.parent.mkdir()
    upload.write_text("De molen van Kinderdijk werd in 1740 gebouwd door de waterschappen.")
    report = backend.add_files([upload])
    assert report.added == ["molen.txt"] and not report.refused
    stored = small_index / "uploads" / "molen.txt"  # the index's own folder
    assert stored.is_file() and upload.is_file()  # no inbox: the original is left alone
    assert any(d["file"] == "molen.txt" for d in backend.documents())
    assert "1740" in service.ask("Wanneer werd de molen van Kinderdijk gebouwd?").text
    assert "Removed" in backend.remove(str(stored.resolve()))
    assert not stored.exists()
    assert all(d["file"] != "molen.txt" for d in backend.documents())


def test_sources_show_the_page_of_a_pdf_quote(
    small_index: Path, fake_embedder: FakeEmbedder, tmp_path: Path
) -> None:
    service = service_for(small_index, fake_embedder)
    backend = Backend(service, "fake:64")
    pdf = write_pdf(
        tmp_path / "rapport.pdf", ["Inleiding van het rapport.", "De dijk is 9 meter hoog."]
    )
    assert backend.add_files([pdf]).added == ["rapport.pdf"]
    source = next(d["source"] for d in backend.documents() if d["file"] == "rapport.pdf")
    text = service.current_retriever().index.document_text(source) or ""
    assert backend.page_of(source, text.index("De dijk")) == 2
    assert backend.page_of(source, 0) == 1
    assert backend.page_of("/not/indexed.txt", 0) is None
    c = citation(text, "De dijk is 9 meter hoog.", source=source)
    view = answer_view("q", answer("De dijk is 9 meter hoog. [1]", [c]), lambda s, o: 2)
    assert "page 2" in render_answer(view) and load_turns([view])[0]["citations"][0]["page"] == 2


def test_sibling_indexes_do_not_share_uploads(
    small_corpus: Path, fake_embedder: FakeEmbedder, tmp_path: Path
) -> None:
    parent = tmp_path / "indexes"
    roots = [parent / "one", parent / "two"]
    for root in roots:
        index_paths(
            [small_corpus],
            root,
            lambda: fake_embedder,
            "fake:64",
            ChunkingConfig(max_tokens=24, overlap_tokens=6),
            progress=False,
        )
    one, two = (Backend(service_for(r, fake_embedder), "fake:64") for r in roots)
    note = tmp_path / "note.txt"
    note.write_text("Alleen index een kent de windmolen van Zaandam uit 1720.")
    one.add_files([note])
    assert any(d["file"] == "note.txt" for d in one.documents())
    assert all(d["file"] != "note.txt" for d in two.documents())
    assert not (parent / "uploads").exists() and not (roots[1] / "uploads").exists()
    two.remove(str(roots[0] / "uploads" / "note.txt"))  # not two's document: nothing happens
    assert (roots[0] / "uploads" / "note.txt").is_file()


def test_a_batch_with_a_refused_file_indexes_the_others_now(
    small_index: Path, fake_embedder: FakeEmbedder, tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    good = inbox / "brug.txt"
    good.write_text("De brug van Zwolle werd in 1850 gebouwd.")
    bad = inbox / "tool.exe"
    bad.write_bytes(b"MZ")
    big = inbox / "big.txt"
    big.write_bytes(b"a" * (21 * 1024 * 1024))
    backend = Backend(service_for(small_index, fake_embedder), "fake:64", inbox)
    report = backend.add_files([bad, good, big])
    assert report.added == ["brug.txt"]
    assert [name for name, _ in report.refused] == ["tool.exe", "big.txt"]
    assert "larger than 20 MiB" in report.message and "refused tool.exe" in report.message
    assert any(d["file"] == "brug.txt" for d in backend.documents())  # indexed now
    assert list(inbox.iterdir()) == []  # refused and consumed uploads leave the upload folder


def test_only_files_from_the_upload_folder_are_accepted(
    small_index: Path, fake_embedder: FakeEmbedder, tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    (inbox / "x").mkdir(parents=True)
    secret = tmp_path / "secret.md"
    secret.write_text("Het geheime wachtwoord is zwaardvis.")
    (inbox / "x" / "link.md").symlink_to(secret)
    other = tmp_path / "other-index" / "uploads" / "theirs.txt"
    other.parent.mkdir(parents=True)
    other.write_text("Een document van een andere index.")
    backend = Backend(service_for(small_index, fake_embedder), "fake:64", inbox)
    relative = os.path.relpath(secret, Path.cwd())
    tries = [
        secret,
        Path(relative),
        inbox / "x" / ".." / ".." / "secret.md",
        inbox / "x" / "link.md",
        other,
    ]
    report = backend.add_files([Upload(p, "ok.md") for p in tries])
    assert not report.added and len(report.refused) == len(tries)
    assert secret.is_file() and other.is_file()  # nothing outside the upload folder deleted
    assert all("zwaardvis" not in d["title"] for d in backend.documents())
    # and the web layer's own check: a file in the folder that it did not receive
    stray = inbox / "stray.txt"
    stray.write_text("Niet via de pagina geupload.")
    strict = Backend(backend.service, "fake:64", inbox, uploaded=lambda path: False)
    assert strict.add_files([stray]).refused == [
        ("stray.txt", "not a file uploaded through this page")
    ]


# --- the named API, through gradio_client, on loopback ---------------------------------------


@pytest.fixture
def api(small_index: Path, fake_embedder: FakeEmbedder) -> Iterator[Any]:
    from gradio_client import Client

    demo = create_app(service_for(small_index, fake_embedder), "fake:64")
    demo.queue()
    _, url, _ = demo.launch(prevent_thread_lock=True, server_port=free_port(), quiet=True)
    try:
        yield Client(url, verbose=False)
    finally:
        demo.close()


def test_the_api_has_four_named_endpoints_with_named_outputs(api: Any) -> None:
    info = api.view_api(return_format="dict", print_info=False)
    endpoints = info["named_endpoints"]
    assert sorted(endpoints) == ["/ask", "/documents", "/remove", "/upload"]
    assert not info["unnamed_endpoints"]
    ask = endpoints["/ask"]
    assert [p["parameter_name"] for p in ask["parameters"]] == [
        "question",
        "history",
        "mode",
        "k",
        "lang",
    ]
    assert all(p["parameter_has_default"] for p in ask["parameters"][1:])
    assert [r["label"] for r in ask["returns"]] == ["answer_html", "answer"]
    assert [r["label"] for r in endpoints["/upload"]["returns"]] == ["message", "documents"]
    assert "llm" not in str(info).lower()


def test_ask_returns_html_beside_the_structured_answer(api: Any) -> None:
    html, answer = api.predict("Hoeveel geeft Nederland aan het Rode Kruis?", api_name="/ask")
    assert "3 miljoen euro" in answer["answer"] and answer["citations"][0]["n"] == 1
    assert "citeqa-source" in html and "3 miljoen euro" in html
    follow = api.predict(
        "En hoeveel was dat?",
        [["Hoeveel geeft Nederland aan het Rode Kruis?", answer["answer"]]],
        api_name="/ask",
    )[1]
    assert follow["question"] == "En hoeveel was dat?"


def test_upload_remove_and_documents_through_the_api(api: Any, tmp_path: Path) -> None:
    from gradio_client import handle_file

    note = tmp_path / "molen.txt"
    note.write_text("De molen van Kinderdijk werd in 1740 gebouwd door de waterschappen.")
    message, docs = api.predict([handle_file(str(note))], api_name="/upload")
    assert message.startswith("Added 1") and any(d["file"] == "molen.txt" for d in docs)
    source = next(d["source"] for d in docs if d["file"] == "molen.txt")
    assert "/uploads/" in source
    assert api.predict(api_name="/documents") == docs
    message, docs = api.predict(source, api_name="/remove")
    assert message == "Removed molen.txt." and all(d["file"] != "molen.txt" for d in docs)


def test_the_upload_api_refuses_server_paths_and_other_indexes_files(
    api: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small_index: Path
) -> None:
    import gradio_client.client
    from gradio_client.exceptions import AppError

    # a client on another machine sends paths as they are; this one would upload its own copy
    monkeypatch.setattr(
        gradio_client.client.Endpoint, "_upload_file", lambda self, f, data_index: f
    )
    secret = tmp_path / "secret.md"
    secret.write_text("Het geheime wachtwoord is zwaardvis.")
    sibling = small_index.parent / "sibling" / "uploads" / "theirs.txt"
    sibling.parent.mkdir(parents=True)
    sibling.write_text("Een document van een andere index.")
    before = api.predict(api_name="/documents")
    relative = os.path.relpath(secret, Path.cwd())
    for path in [
        str(secret),
        relative,
        f"../../../../../..{secret}",
        str(sibling),
        "/etc/hostname",
    ]:
        payload = [{"path": path, "orig_name": "x.md", "meta": {"_type": "gradio.FileData"}}]
        try:
            message, _ = api.predict(payload, api_name="/upload")
        except AppError as exc:  # Gradio's own check refuses first
            message = str(exc)
        assert not message.startswith("Added 1"), path
    # a file planted in Gradio's upload folder passes Gradio's check, not ours: it was never
    # uploaded through the page
    from gradio.utils import get_upload_folder

    planted = Path(get_upload_folder()) / "citeqa-test" / "planted.txt"
    planted.parent.mkdir(parents=True, exist_ok=True)
    planted.write_text("Geplant in de uploadmap: het wachtwoord is zwaardvis.")
    payload = [{"path": str(planted), "orig_name": "x.txt", "meta": {"_type": "gradio.FileData"}}]
    message, docs = api.predict(payload, api_name="/upload")
    assert message.endswith("refused x.txt: not a file uploaded through this page"), message
    assert docs == before == api.predict(api_name="/documents")
    assert secret.is_file() and sibling.is_file()
    assert not planted.exists()  # refused uploads leave the upload folder


def test_uploads_over_the_limit_are_refused_before_they_are_stored(
    api: Any, tmp_path: Path
) -> None:
    import httpx
    from gradio.utils import get_upload_folder

    before = {p for p in Path(get_upload_folder()).rglob("*") if p.is_file()}
    big = b"a" * (MAX_UPLOAD_BYTES + 1)
    response = httpx.post(
        api.src.rstrip("/") + "/gradio_api/upload", files={"files": ("big.txt", big)}
    )
    assert response.status_code == 413
    after = {p for p in Path(get_upload_folder()).rglob("*") if p.is_file()}
    assert not [p for p in after - before if p.name == "big.txt"]


def test_api_errors_are_one_line_messages(api: Any) -> None:
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="The question is empty"):
        api.predict("  ", api_name="/ask")
    with pytest.raises(AppError, match="fuzzy"):
        api.predict("Wie?", [], "fuzzy", api_name="/ask")
    with pytest.raises(AppError, match="history must be"):
        api.predict("Wie?", "not a list", api_name="/ask")


def test_serve_warms_the_embedder_before_it_says_ready(
    small_index: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import qa.factory
    from frontends.server import listen, serving
    from qa.settings import Settings

    events: list[str] = []
    service = qa.factory.open_service(Settings(index=small_index))
    embedder = service.retriever.embedder
    real = embedder.embed_query
    monkeypatch.setattr(embedder, "embed_query", lambda text: events.append("embed") or real(text))
    monkeypatch.setattr(qa.factory, "open_service", lambda *args: service)
    monkeypatch.setattr(listen, "run", lambda server, sock: events.append("serving"))
    serving.serve(small_index, "127.0.0.1", 0)
    assert events == ["embed", "serving"]


def test_serve_opens_the_index_once(small_index: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One store opened at start and passed on: its manifest read once, the embedder checked
    once (a second opening, to read the embedder's name, was never closed on Milvus)."""
    import embeddings.store
    import qa.factory
    from frontends.server import listen, serving

    calls: list[str] = []

    def counted(module: Any, name: str) -> None:
        real = getattr(module, name)
        monkeypatch.setattr(module, name, lambda *a, **k: calls.append(name) or real(*a, **k))

    counted(embeddings.store, "read_manifest")
    for name in ("open_store", "manifest_of", "check_embedder", "check_engine"):
        counted(qa.factory, name)
    monkeypatch.setattr(listen, "run", lambda server, sock: calls.append("serving"))
    serving.serve(small_index, "127.0.0.1", 0)
    assert sorted(calls) == [
        "check_embedder",
        "check_engine",
        "open_store",
        "read_manifest",
        "serving",
    ]


@pytest.mark.parametrize("wanted", [True, False])
def test_uploads_follow_the_document_vectors_setting(
    small_index: Path, fake_embedder: FakeEmbedder, tmp_path: Path, wanted: bool
) -> None:
    # the small corpus is mostly short: an upload of a few passages gets its whole-document
    # vector, unless indexing.document_vectors is off
    service = service_for(small_index, fake_embedder)
    backend = Backend(service, "fake:64", indexing=IndexingConfig(document_vectors=wanted))
    upload = tmp_path / "incoming" / "sluizen.txt"
    upload.parent.mkdir()
    upload.write_text(" ".join(f"Sluis {i} gaat om {i} uur open voor schepen." for i in range(6)))
    assert backend.add_files([upload]).added == ["sluizen.txt"]
    stored = str((small_index / "uploads" / "sluizen.txt").resolve())
    assert (stored in Index(small_index).document_vector_sources()) is wanted


def test_a_long_question_is_not_cut_in_the_box(
    small_index: Path, fake_embedder: FakeEmbedder
) -> None:
    """The box takes a pasted 4,800 characters; the service then refuses it in one line
    (the box used to cut it to 2,000 without a word)."""
    demo = create_app(service_for(small_index, fake_embedder), "fake:64")
    box = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "question")
    assert box.max_length is None
    with pytest.raises(BadInput, match="4800 characters; the limit is 2000"):
        service_for(small_index, fake_embedder).ask("x" * 4800)


def test_a_file_being_read_blocks_no_other_upload_or_removal(
    small_index: Path, fake_embedder: FakeEmbedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 26: a slow (or hostile) upload is read outside the write lock, so another
    upload and a removal go through meanwhile; only the index write is serialised."""
    import threading

    from embeddings import documents

    reading, release = threading.Event(), threading.Event()
    plain = documents.READERS[".txt"]

    def slow(path: Path, budget: documents.Budget | None = None) -> Any:
        if path.name == "slow.txt":
            reading.set()
            release.wait(60)
        return plain(path, budget)

    monkeypatch.setitem(documents.READERS, ".txt", slow)
    service = service_for(small_index, fake_embedder)
    backend = Backend(service, "fake:64")
    files = {}
    for name, text in [
        ("slow.txt", "De sluis van IJmuiden werd in 1930 geopend."),
        ("quick.txt", "De toren van Utrecht is 112 meter hoog."),
        ("gone.txt", "De haven van Harlingen werd in 1580 uitgebreid."),
    ]:
        files[name] = tmp_path / name
        files[name].write_text(text)
    assert backend.add_files([files["gone.txt"]]).added == ["gone.txt"]
    gone = next(d["source"] for d in backend.documents() if d["file"] == "gone.txt")
    results: dict[str, Any] = {}
    slow_upload = threading.Thread(
        target=lambda: results.update(slow=backend.add_files([files["slow.txt"]]))
    )
    slow_upload.start()
    try:
        assert reading.wait(30)
        others = threading.Thread(
            target=lambda: results.update(
                removed=backend.remove(str(gone)), quick=backend.add_files([files["quick.txt"]])
            ),
            daemon=True,
        )
        others.start()
        others.join(30)  # a deadlock guard, not a timing: blocked, they never finish
        assert not others.is_alive(), "a removal or upload waited for a file being read"
    finally:
        release.set()
        slow_upload.join(60)
    assert results["removed"] == "Removed gone.txt." and results["quick"].added == ["quick.txt"]
    assert results["slow"].added == ["slow.txt"]
    assert {"slow.txt", "quick.txt"} <= {d["file"] for d in backend.documents()}
    assert "gone.txt" not in {d["file"] for d in backend.documents()}
    assert not [p for p in (small_index / "uploads").iterdir() if p.name.startswith(".")]


def test_an_upload_bomb_is_refused_and_not_kept(
    small_index: Path, fake_embedder: FakeEmbedder, tmp_path: Path
) -> None:
    from tests.helpers import write_pdf_bomb

    backend = Backend(service_for(small_index, fake_embedder), "fake:64")
    report = backend.add_files([write_pdf_bomb(tmp_path / "bomb.pdf", 50)])
    assert not report.added and report.refused[0][0] == "bomb.pdf"
    assert "characters per byte of the file (page" in report.refused[0][1]
    assert not (small_index / "uploads" / "bomb.pdf").exists()
    assert not [p for p in (small_index / "uploads").iterdir() if p.name.startswith(".")]
