"""The chat UI in a real browser: Debian's chromium driven by Playwright, headless, against
`create_app` served on a free loopback port, on the bundled corpus indexed with the real
embedder. One test per promise the UI makes (issue 12's list, issue 15's remote content)."""

from __future__ import annotations

import shutil
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.helpers import free_port, running_server

pytestmark = [pytest.mark.slow, pytest.mark.browser]
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "tests" / "artifacts"
RED_CROSS = "How much extra money does the Netherlands give to the Dutch Red Cross?"
CONTRAST_JS = (Path(__file__).parent / "contrast.js").read_text()
AA = 4.5  # WCAG AA for normal text
# The UI as `serve()` builds it, without the CLI around it (flags are C1's to change).
SERVER = """
import sys
from pathlib import Path
import app
from qa.factory import embedder_spec, open_service
from qa.settings import Settings
settings = Settings(index=Path(sys.argv[1]))
spec = embedder_spec(settings)
service = open_service(settings.model_copy(update={"embedder": spec}))
demo = app.create_app(service, spec)
demo.queue().launch(server_name="127.0.0.1", server_port=int(sys.argv[2]), share=False)
"""


def serve_copy(e5_index: Path, folder: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    index = folder / "index"
    shutil.copytree(e5_index, index)  # uploads change it; other tests keep theirs
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    settings = [f"{k}={v}" for k, v in (env or {}).items()]
    command = ["env", *settings, sys.executable, "-c", SERVER, str(index), str(port)]
    with running_server(command, url, folder / "app.log", cwd=ROOT):
        yield url


@pytest.fixture(scope="module")
def app_url(e5_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from serve_copy(e5_index, tmp_path_factory.mktemp("ui"))


@pytest.fixture(scope="module")
def hanging_llm_url(e5_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The UI over an LLM server that accepts connections and never answers."""
    with socket.socket() as sink:
        sink.bind(("127.0.0.1", 0))
        sink.listen(16)
        env = {
            "CITEQA_ANSWER__ANSWERER": "llm",
            "CITEQA_ANSWER__LLM": "openai:local",
            "CITEQA_ANSWER__LLM_BASE_URL": f"http://127.0.0.1:{sink.getsockname()[1]}/v1",
            "CITEQA_ANSWER__LLM_TIMEOUT": "2",
        }
        yield from serve_copy(e5_index, tmp_path_factory.mktemp("llm"), env)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is missing: apt-get install -y chromium (make test does this)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield instance
        instance.close()


def open_page(browser: Any, url: str, width: int = 1280, **options: Any) -> Any:
    page = browser.new_page(viewport={"width": width, "height": 1000}, **options)
    page.goto(url)
    page.locator("#chat .citeqa-empty, #chat .citeqa-turn").first.wait_for(timeout=60_000)
    return page


def ask(page: Any, question: str, answers_before: int) -> str:
    page.locator("#question textarea").fill(question)
    page.locator("#ask").click()
    page.wait_for_function(
        f"document.querySelectorAll('#chat .citeqa-turn:not(.citeqa-pending)').length > "
        f"{answers_before} && !document.querySelector('#chat .citeqa-pending')",
        timeout=120_000,
    )
    return str(page.locator("#chat .citeqa-turn .citeqa-a").last.inner_text())


def upload(page: Any, *paths: Path) -> str:
    page.get_by_role("tab", name="Documents").click()
    page.locator("#upload input[type=file]").set_input_files([str(p) for p in paths])
    for path in paths:  # the picker shows each name as stem and suffix
        page.locator("#upload").get_by_text(path.stem, exact=True).wait_for(timeout=60_000)
    page.locator("#add").click()
    status = page.locator("#upload-status")
    status.get_by_text("passages embedded").wait_for(timeout=120_000)
    return str(status.inner_text())


def test_chat_cites_opens_sources_follows_up_and_reads_an_upload(
    app_url: str, browser: Any, tmp_path: Path
) -> None:
    page = open_page(browser, app_url)
    # an English question about a Dutch document
    first = ask(page, RED_CROSS, 0)
    assert "3 miljoen euro" in first
    turn = page.locator("#chat .citeqa-turn").last
    markers = turn.locator("a.citeqa-marker")
    numbers = [int(t.strip("[]")) for t in markers.all_inner_texts()]
    assert numbers and sorted(set(numbers)) == list(range(1, max(numbers) + 1))  # 1..n as cited
    sources = turn.locator("details.citeqa-source")
    assert sources.count() == max(numbers)
    # readable names: the parliament page's title, never only its hash file name
    names = sources.locator("summary b").all_inner_texts()
    assert all(not n.split("] ", 1)[1].startswith("00") for n in names), names
    # clicking [1] opens source 1 and shows its highlighted quote
    assert not sources.first.evaluate("d => d.open")
    markers.first.click()
    assert sources.first.evaluate("d => d.open")
    assert "3 miljoen euro" in sources.first.locator("blockquote mark").first.inner_text()
    assert sources.first.locator(".citeqa-passage mark").count() >= 1
    # a follow-up that only makes sense with the history (what it says is the service's call)
    assert "UNOPS" in ask(page, "And to UNOPS?", 1)
    # the retrieval debugger lists the passages with their scores
    page.get_by_text("All retrieved passages").click()
    assert "BM25" in page.locator("#passages").inner_text()
    # upload a file, then ask about it
    note = tmp_path / "molen.txt"
    note.write_text("De molen van Kinderdijk werd in 1740 gebouwd door de waterschappen.\n")
    assert "Added 1" in upload(page, note)
    page.get_by_role("tab", name="Chat").click()
    third = ask(page, "When was the Kinderdijk windmill built?", 2)
    assert "1740" in third and "molen.txt" in third
    page.close()


def test_documents_remove_asks_first_and_lists_stay_fresh(
    app_url: str, browser: Any, tmp_path: Path
) -> None:
    page = open_page(browser, app_url)
    page.get_by_role("tab", name="Documents").click()
    choice = page.locator("#remove-choice input")
    assert choice.input_value() == ""  # nothing preselected
    page.locator("#remove").click()
    page.locator("#upload-status").get_by_text("Pick a document").wait_for()
    assert not page.locator("#confirm-yes").is_visible()
    # two names that Gradio's own copy would both call ab.txt
    one, two = tmp_path / "a<b.txt", tmp_path / "a>b.txt"
    one.write_text("De sluis van Lith werd in 1936 geopend.\n")
    two.write_text("Het gemaal van Lemmer werd in 1920 geopend.\n")
    assert "Added 2" in upload(page, one, two)
    assert page.locator("#upload").get_by_text("a<b", exact=True).count() == 0  # picker cleared
    assert page.locator("#documents-table").inner_text().count("a_b-") == 2
    # a second page, opened now, lists the uploads from the start
    other = open_page(browser, app_url)
    other.get_by_role("tab", name="Documents").click()
    other.locator("#remove-choice input").click()
    assert other.get_by_role("option").filter(has_text="a_b-").count() == 2
    other.close()
    # remove one: pick, confirm, gone from the table and the choices
    choice.click()
    page.get_by_role("option").filter(has_text="Lith").click()
    page.locator("#remove").click()
    page.locator("#confirm-text").get_by_text("Remove").wait_for()
    assert "De sluis van Lith" in page.locator("#confirm-text").inner_text()
    assert page.locator("#documents-table").inner_text().count("a_b-") == 2  # not yet
    page.locator("#confirm-yes").click()
    page.locator("#upload-status").get_by_text("Removed").wait_for(timeout=60_000)
    assert not page.locator("#confirm-yes").is_visible()
    assert choice.input_value() == ""
    assert page.locator("#documents-table").inner_text().count("a_b-") == 1
    choice.click()
    assert page.get_by_role("option").filter(has_text="a_b-").count() == 1
    assert page.get_by_role("option").filter(has_text="Lith").count() == 0
    page.close()


def conversation_titles(page: Any) -> list[str]:
    return [t.strip() for t in page.locator("#conversations label").all_inner_texts()]


def test_several_conversations_each_with_its_own_history_kept_across_a_reload(
    app_url: str, browser: Any
) -> None:
    """New, open, rename, delete (asked first); each conversation's follow-ups are read
    against its own turns only; all of it kept across a reload (the browser's storage)."""
    page = open_page(browser, app_url)
    ask(page, RED_CROSS, 0)
    (first,) = conversation_titles(page)  # titled by its first question, cut at a word
    assert RED_CROSS.startswith(first.rstrip("…")) and first.endswith(" the…")
    page.locator("#new-chat").click()
    page.locator("#chat .citeqa-empty").wait_for()
    assert page.locator("#passages .citeqa-searched").count() == 0  # the debugger too
    # a follow-up in the new chat has no history: it is searched for on its own
    ask(page, "And to UNOPS?", 0)
    page.get_by_text("All retrieved passages").click()
    searched = page.locator("#passages .citeqa-searched")
    assert searched.inner_text() == "Searched for: And to UNOPS?"
    assert len(conversation_titles(page)) == 2
    # renamed (the title is text, never markup)
    page.locator("#chat-title input, #chat-title textarea").first.fill("UNOPS <b>alone</b>")
    page.locator("#rename").click()
    page.locator("#conversations").get_by_text("UNOPS <b>alone</b>").wait_for()
    assert page.locator("#conversations b").count() == 0
    page.reload()
    page.locator("#chat .citeqa-turn").first.wait_for(timeout=60_000)
    assert conversation_titles(page)[0] == "UNOPS <b>alone</b>"  # kept, and still open
    assert page.locator("#chat .citeqa-turn").count() == 1
    assert "UNOPS" in page.locator("#chat .citeqa-q").inner_text()
    # open the first chat again: its turns, and a follow-up read with its history
    page.locator("#conversations label").nth(1).click()
    page.locator("#chat").get_by_text("3 miljoen euro").first.wait_for()
    assert page.locator("#chat .citeqa-turn").count() == 1
    assert "UNOPS" in ask(page, "And to UNOPS?", 1)
    page.get_by_text("All retrieved passages").click()
    assert searched.inner_text() != "Searched for: And to UNOPS?"
    # delete asks first; Cancel keeps it
    page.locator("#delete-chat").click()
    page.locator("#delete-text").get_by_text("Delete the conversation").wait_for()
    assert "How much extra money" in page.locator("#delete-text").inner_text()
    page.locator("#delete-no").click()
    page.locator("#delete-yes").wait_for(state="hidden")
    assert len(conversation_titles(page)) == 2
    page.locator("#delete-chat").click()
    page.locator("#delete-yes").click()
    page.locator("#delete-yes").wait_for(state="hidden")
    assert conversation_titles(page) == ["UNOPS <b>alone</b>"]
    assert "3 miljoen euro" not in page.locator("#chat").inner_text()
    page.reload()
    page.locator("#chat .citeqa-turn").first.wait_for(timeout=60_000)
    assert conversation_titles(page) == ["UNOPS <b>alone</b>"]
    # the last one deleted leaves a new, empty chat
    page.locator("#delete-chat").click()
    page.locator("#delete-yes").click()
    page.locator("#chat .citeqa-empty").wait_for()
    assert conversation_titles(page) == ["New chat"]
    page.close()


@pytest.mark.parametrize("theme", ["", "?__theme=dark"])
def test_a_source_opens_its_whole_document_at_the_cited_span(
    app_url: str, browser: Any, theme: str
) -> None:
    page = open_page(browser, app_url + theme)
    ask(page, RED_CROSS, 0)
    page.locator("#chat a.citeqa-marker").first.click()
    quote = page.locator("#chat details.citeqa-source blockquote").first.inner_text()
    assert page.locator("#viewer-panel:visible").count() == 0
    page.locator("#chat button.citeqa-open").first.click()
    cited = page.locator("#viewer mark.citeqa-cited")
    cited.wait_for(timeout=30_000)
    assert "3 miljoen euro" in cited.inner_text() and cited.inner_text().strip() in quote
    text = page.locator("#viewer .citeqa-doc-text").inner_text()
    assert len(text) > 5 * len(cited.inner_text())  # the whole document, not the passage
    head = page.locator("#viewer .citeqa-doc-head")
    assert "Reactie op verzoek" in head.inner_text()
    page.wait_for_timeout(300)  # the scroll to the span
    box, shown = cited.bounding_box(), page.locator("#viewer").bounding_box()
    assert box["y"] >= shown["y"] and box["y"] + box["height"] <= shown["y"] + shown["height"]
    assert page.locator("#viewer").evaluate("v => v.scrollTop") > 0  # scrolled down to it
    assert head.bounding_box()["y"] >= shown["y"] - 1  # the name stays in view
    assert lowest_contrast(page, "#viewer")[0]["ratio"] >= AA
    page.locator("#viewer-close").click()
    # (Gradio may keep a hidden copy of the panel beside the one shown)
    page.locator("#viewer-panel").first.wait_for(state="detached")
    assert page.locator("#viewer mark.citeqa-cited:visible").count() == 0
    page.close()


def test_copy_gives_plain_text_and_labels_hold_no_markup(app_url: str, browser: Any) -> None:
    context = browser.new_context(permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.goto(app_url)
    page.locator("#chat .citeqa-empty").wait_for(timeout=60_000)
    ask(page, RED_CROSS, 0)
    answer = page.locator("#chat .citeqa-a").last
    label = answer.get_attribute("aria-label")
    assert label.startswith("Answer: ") and "source" in label
    assert len(label) < 120 and "Sources" not in label  # short: the answer is read anyway
    assert "<" not in label and "class=" not in label
    answer.locator("button.citeqa-copy").click()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert "3 miljoen euro" in copied and "Sources:" in copied
    assert "<" not in copied and "class=" not in copied
    context.close()


def test_stop_keeps_the_question_marked_stopped_with_a_retry(
    hanging_llm_url: str, browser: Any
) -> None:
    """While answering, Ask and the box are disabled and Stop is enabled; Stop keeps the
    question (in the chat, marked stopped, with Retry; back in the box) and frees the UI."""
    page = open_page(browser, hanging_llm_url)
    assert page.locator("#stop").is_disabled()
    page.locator("#question textarea").fill(RED_CROSS)
    page.locator("#ask").click()
    page.locator("#chat .citeqa-pending .citeqa-state").get_by_text("Answering").wait_for(
        timeout=60_000
    )
    assert page.locator("#ask").is_disabled()
    assert page.locator("#question textarea").is_disabled()  # Enter cannot ask either
    assert page.locator("#stop").is_enabled()
    page.locator("#stop").click()
    stopped = page.locator("#chat .citeqa-turn:has(.citeqa-stopped)")
    stopped.wait_for(timeout=30_000)
    assert page.locator("#chat .citeqa-pending").count() == 0
    assert stopped.locator(".citeqa-q").inner_text() == RED_CROSS
    assert "Stopped" in stopped.locator(".citeqa-state").inner_text()
    assert page.locator("#ask").is_enabled() and page.locator("#question textarea").is_enabled()
    assert page.locator("#stop").is_disabled()
    assert page.locator("#question textarea").input_value() == RED_CROSS
    assert lowest_contrast(page, "#chat")[0]["ratio"] >= AA
    # kept across a reload, and still there (not lost) after another question is asked
    page.reload()
    stopped.wait_for(timeout=60_000)
    # Retry asks it again: the stopped turn gives way to the new attempt, which (a failing
    # LLM) ends in a message while the app keeps running
    stopped.locator("button.citeqa-retry").click()
    page.locator("#chat .citeqa-pending .citeqa-state").get_by_text("Searching").or_(
        page.locator("#chat .citeqa-pending .citeqa-state").get_by_text("Answering")
    ).first.wait_for(timeout=60_000)
    assert page.locator("#chat .citeqa-pending .citeqa-q").inner_text() == RED_CROSS
    page.locator("#chat .citeqa-error").wait_for(timeout=120_000)
    assert "failed" in page.locator("#chat .citeqa-error").inner_text()
    assert page.locator("#chat .citeqa-turn").count() == 1  # the retry replaced it
    assert page.locator("#chat .citeqa-stopped").count() == 0
    assert page.locator("#ask").is_enabled() and page.locator("#stop").is_disabled()
    page.close()


def test_two_tabs_are_independent(app_url: str, browser: Any) -> None:
    one, two = open_page(browser, app_url), open_page(browser, app_url)
    ask(one, "Which Israeli ministers did the Dutch government declare persona non grata?", 0)
    ask(two, "Wat zei John Kirby over een herbezetting van Gaza?", 0)
    assert one.locator("#chat .citeqa-turn").count() == 1
    assert two.locator("#chat .citeqa-turn").count() == 1
    assert "Smotrich" in one.locator("#chat").inner_text()
    assert "Smotrich" not in two.locator("#chat").inner_text()
    one.close()
    two.close()


def test_the_layout_works_on_a_390_px_phone(app_url: str, browser: Any) -> None:
    """The answer uses the phone's width (no nested margins), the input fits, and the
    Documents table shows its four columns side by side."""
    page = open_page(browser, app_url, width=390)
    ask(page, RED_CROSS, 0)
    assert page.locator("#chat .citeqa-a").last.bounding_box()["width"] >= 340
    assert page.locator("#question textarea").bounding_box()["width"] >= 300
    assert page.locator("#ask").bounding_box()["x"] + 40 <= 390
    page.get_by_text("All retrieved passages").click()
    overflow = "document.scrollingElement.scrollWidth - document.scrollingElement.clientWidth"
    assert page.evaluate(overflow) <= 1
    page.get_by_role("tab", name="Documents").click()
    assert page.locator("#remove-choice").bounding_box()["width"] >= 300
    headers = page.locator("#documents-table th")
    headers.first.wait_for()
    boxes = [h.bounding_box() for h in headers.all()]
    assert len(boxes) == 4
    assert all(b["x"] >= 0 and b["x"] + b["width"] <= 391 and b["width"] >= 40 for b in boxes)
    assert all(b["height"] < 40 for b in boxes)  # each header on one line, not cut mid-word
    assert page.evaluate(overflow) <= 1
    page.close()


def test_documents_cannot_make_the_browser_fetch_anything(
    app_url: str, browser: Any, tmp_path: Path
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    origin = app_url.rstrip("/")
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(app_url)
    page.locator("#chat .citeqa-empty").wait_for(timeout=60_000)
    note = tmp_path / "beacon.md"
    note.write_text(
        "# ![logo](http://198.51.100.7/title.png)\n\n"
        "De vuurtoren van Texel werd in 1864 gebouwd. "
        "![beacon](http://198.51.100.7/beacon.png?leak=texel) "
        "[lees meer](https://example.org/texel) <img src='http://198.51.100.7/raw.png'>\n"
    )
    upload(page, note)
    page.get_by_role("tab", name="Chat").click()
    text = ask(page, "Wanneer werd de vuurtoren van Texel gebouwd?", 0)
    assert "1864" in text
    for source in page.locator("#chat details.citeqa-source").all():
        source.locator("summary").click()
    page.wait_for_timeout(500)
    assert page.locator("#chat img").count() == 0
    assert page.locator("#chat a[href^='http']").count() == 0
    outside = [u for u in requests if not u.startswith((origin, "data:", "blob:"))]
    assert outside == []
    ARTIFACTS.mkdir(exist_ok=True)
    page.close()


def lowest_contrast(page: Any, selector: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = page.evaluate(
        CONTRAST_JS, page.locator(selector).element_handle()
    )
    return found


@pytest.mark.parametrize("theme", ["light", "dark-url", "dark-os"])
def test_every_chat_text_is_readable_in_both_themes(app_url: str, browser: Any, theme: str) -> None:
    """Dark mode comes from `?__theme=dark` or the OS; every text in the chat (question,
    answer, markers, sources and their quotes, related passages, an error, the conversation
    list, the input's buttons) has a contrast of at least 4.5 against what is behind it,
    computed in the page."""
    scheme = "dark" if theme == "dark-os" else "light"
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, color_scheme=scheme)
    page = context.new_page()
    page.goto(app_url + ("?__theme=dark" if theme == "dark-url" else ""))
    page.locator("#chat .citeqa-empty").wait_for(timeout=60_000)
    dark = page.evaluate("document.body.classList.contains('dark')")
    assert dark == theme.startswith("dark")
    empty = lowest_contrast(page, "#chat")
    ask(page, RED_CROSS, 0)
    ask(page, "What is the boiling point of mercury on Mars?", 1)  # refused: related passages
    ask(page, "Why? " * 500, 2)  # too long: an error
    assert page.locator("#chat .citeqa-related li").count() >= 1
    # each related passage on a line of its own, below its title (not glued to the file name)
    related = page.locator("#chat .citeqa-related li").first
    head = related.locator(".citeqa-rel-head").bounding_box()
    for snippet in related.locator(".citeqa-snippet").all():
        box = snippet.bounding_box()
        assert box["y"] >= head["y"] + head["height"] - 1 and box["x"] <= head["x"] + 1
    assert page.locator("#chat .citeqa-error").count() == 1
    page.locator("#chat a.citeqa-marker").first.click()  # a source opened and flashed
    for details in page.locator("#chat details").all():
        details.evaluate("d => d.open = true")
    # the conversation list, the input and its buttons are the chat's too
    around = lowest_contrast(page, "#sidebar") + lowest_contrast(page, "#ask-row")
    assert {"Ask", "New chat", "Delete chat…", "Conversations"} <= {f["text"] for f in around}
    found = lowest_contrast(page, "#chat") + empty + around
    kinds = {str(f["cls"]) for f in found}
    assert {"citeqa-error", "citeqa-marker", "citeqa-meta", "citeqa-empty"} <= kinds
    assert {"MARK", "P", "B", "BUTTON", "A"} <= {str(f["tag"]) for f in found}
    low = min(found, key=lambda f: float(f["ratio"]))
    print(
        f"\n{theme}: lowest contrast {low['ratio']:.2f} ({low['tag']}.{low['cls']}: "
        f"{low['text']!r}, {low['fg']} on rgba({low['bg']}))"
    )
    assert [f for f in found if f["ratio"] < AA] == []
    # the chat follows the theme: a dark answer box in dark mode, a light one in light mode
    box = page.locator("#chat .citeqa-a").first.evaluate(
        "a => getComputedStyle(a).backgroundColor.match(/\\d+/g).slice(0, 3).map(Number)"
    )
    assert (sum(box) / 3 < 100) == dark, box
    context.close()


def test_the_input_stays_pinned_while_the_chat_grows(app_url: str, browser: Any) -> None:
    """The chat scrolls above the input; the page does not grow, the input stays in view;
    Stop is disabled while nothing is being answered."""
    page = open_page(browser, app_url)
    viewport = page.viewport_size["height"]
    page_height = "document.scrollingElement.scrollHeight"
    assert page.locator("#stop").is_disabled()
    before = page.evaluate(page_height)
    for i, question in enumerate([RED_CROSS, "And to UNOPS?", RED_CROSS, "And to UNOPS?"]):
        ask(page, question, i)
        box = page.locator("#question").bounding_box()
        assert box["y"] >= 0 and box["y"] + box["height"] <= viewport
        assert page.locator("#stop").is_disabled()
    assert page.evaluate(page_height) == before <= viewport
    chat = page.locator("#chat")
    assert chat.evaluate("c => c.scrollHeight > c.clientHeight + 100")  # it scrolls instead
    # the newest answer was scrolled into the chat's view
    last = page.locator("#chat .citeqa-turn").last.bounding_box()
    shown = chat.bounding_box()
    assert last["y"] < shown["y"] + shown["height"] and last["y"] + last["height"] > shown["y"]
    page.close()


def test_screenshot(app_url: str, browser: Any) -> None:
    """A picture of a real answer with its sources in tests/artifacts/, for CI's record;
    docs/screenshot.png comes from `make screenshot` (docs/screenshot.py)."""
    page = open_page(browser, app_url, width=1100)
    ask(page, RED_CROSS, 0)
    page.locator("#chat a.citeqa-marker").first.click()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "screenshot.png"), full_page=True)
    page.close()
