"""The chat UI in a real browser: Debian's chromium driven by Playwright, headless, against
`app.py` on a free loopback port, on the bundled corpus indexed with the real embedder."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.helpers import free_port, running_server

pytestmark = [pytest.mark.slow, pytest.mark.browser]
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "tests" / "artifacts"


@pytest.fixture(scope="module")
def app_url(e5_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("ui")
    index = data / "index"
    shutil.copytree(e5_index, index)  # uploads change it; other tests keep theirs
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    command = [sys.executable, "app.py", "--index", str(index), "--port", str(port)]
    with running_server(command, url, data / "app.log", cwd=ROOT):
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
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


def ask(page, question: str, answers_before: int) -> str:  # type: ignore[no-untyped-def]
    page.locator("#question textarea").fill(question)
    page.locator("#ask").click()
    page.wait_for_function(
        f"document.querySelectorAll('#chat .citeqa-sources').length > {answers_before}",
        timeout=120_000,
    )
    return str(page.locator("#chat .message").all_inner_texts()[-1])


def test_chat_cites_follows_up_and_reads_an_upload(app_url: str, browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page(viewport={"width": 1280, "height": 1200})
    page.goto(app_url)
    # an English question about a Dutch document
    first = ask(page, "How much extra money does the Netherlands give to the Dutch Red Cross?", 0)
    assert "3 miljoen euro" in first and "[1]" in first
    sources = page.locator("#chat .citeqa-source").last
    assert "004_95cba6cae27483a5.txt" in sources.inner_text()
    assert "3 miljoen euro" in sources.locator("mark").first.inner_text()
    # a follow-up that only makes sense with the history
    second = ask(page, "And to UNOPS?", 1)
    assert "1,5 miljoen euro" in second
    # the retrieval debugger lists the passages with their scores
    page.get_by_text("All retrieved passages").click()
    assert "BM25" in page.locator("#passages").inner_text()
    # upload a file, then ask about it
    note = tmp_path / "molen.txt"
    note.write_text("De molen van Kinderdijk werd in 1740 gebouwd door de waterschappen.\n")
    page.get_by_role("tab", name="Documents").click()
    page.locator("#upload input[type=file]").set_input_files(str(note))
    page.locator("#add").click()
    page.locator("#upload-status").get_by_text("Added 1").wait_for(timeout=120_000)
    page.get_by_role("tab", name="Chat").click()
    third = ask(page, "When was the Kinderdijk windmill built?", 2)
    assert "1740" in third and "molen.txt" in third
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "screenshot.png"), full_page=True)
    page.close()


def test_two_tabs_are_independent(app_url: str, browser) -> None:  # type: ignore[no-untyped-def]
    one, two = browser.new_page(), browser.new_page()
    one.goto(app_url)
    two.goto(app_url)
    ask(one, "Which Israeli ministers did the Dutch government declare persona non grata?", 0)
    ask(two, "Wat zei John Kirby over een herbezetting van Gaza?", 0)
    assert one.locator("#chat .citeqa-sources").count() == 1
    assert two.locator("#chat .citeqa-sources").count() == 1
    assert "Smotrich" in one.locator("#chat").inner_text()
    assert "Smotrich" not in two.locator("#chat").inner_text()


def test_a_failing_llm_is_a_message_and_the_app_keeps_running(app_url: str, browser) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page()
    page.goto(app_url)
    page.locator("#settings").get_by_text("Settings").first.click()
    page.locator("#answerer").get_by_text("llm", exact=True).click()
    page.locator("#llm-url textarea, #llm-url input").first.fill("http://127.0.0.1:9/v1")
    page.locator("#question textarea").fill("How much goes to the Red Cross?")
    page.locator("#ask").click()
    page.locator("#chat").get_by_text("failed").wait_for(timeout=60_000)
    page.locator("#answerer").get_by_text("extractive", exact=True).click()
    assert "3 miljoen euro" in ask(
        page, "How much extra money does the Netherlands give to the Dutch Red Cross?", 0
    )
