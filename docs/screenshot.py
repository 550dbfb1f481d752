"""Regenerate docs/screenshot.png (and docs/screenshot-dark.png): the chat UI on the bundled
corpus with three conversations, the first opened at a cited answer with its source shown.

`make screenshot` runs it. It indexes corpus/ into a temporary folder, serves the UI on a free
loopback port and drives Debian's chromium with Playwright (both from the test extras), so
the picture is what a new user sees; nothing of the user's own index or uploads is in it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
QUESTIONS = [
    "Wat zei John Kirby over een herbezetting van Gaza?",
    "Which Israeli ministers did the Dutch government declare persona non grata?",
    "How much extra money does the Netherlands give to the Dutch Red Cross?",
]
SERVER = """
import sys
from pathlib import Path
import app
from qa.factory import embedder_spec, open_service
from qa.settings import Settings
settings = Settings(index=Path(sys.argv[1]))
spec = embedder_spec(settings)
service = open_service(settings.model_copy(update={"embedder": spec}))
app.create_app(service, spec).queue().launch(
    server_name="127.0.0.1", server_port=int(sys.argv[2]), share=False
)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(url: str, process: subprocess.Popen[bytes], timeout: float = 180) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise SystemExit("screenshot: the UI server exited; run `make run` to see why")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"screenshot: {url} did not answer within {timeout:.0f} s")


def _ask(page: Any, question: str) -> None:
    before = page.locator("#chat .citeqa-turn").count()
    page.locator("#question textarea").fill(question)
    page.locator("#ask").click()
    page.wait_for_function(
        f"document.querySelectorAll('#chat .citeqa-turn:not(.citeqa-pending)').length > "
        f"{before} && !document.querySelector('#chat .citeqa-pending')",
        timeout=120_000,
    )


def shoot(url: str, out: Path, dark: bool) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": 1280, "height": 820})
        page.goto(url + ("?__theme=dark" if dark else ""))
        page.locator("#chat .citeqa-empty").wait_for(timeout=60_000)
        for i, question in enumerate(QUESTIONS):
            if i:
                page.locator("#new-chat").click()
                page.locator("#chat .citeqa-empty").wait_for()
            _ask(page, question)
        page.locator("#chat a.citeqa-marker").first.click()
        page.locator("#chat").evaluate("c => c.scrollTop = 0")
        page.screenshot(path=str(out))
        browser.close()
    print(f"wrote {out.relative_to(ROOT)}")


def main() -> None:
    if not Path(CHROMIUM).exists():
        raise SystemExit("screenshot: chromium is missing: apt-get install -y chromium")
    with tempfile.TemporaryDirectory() as tmp:
        index = Path(tmp) / "index"
        env = {**os.environ, "CITEQA_INDEX": str(index)}
        subprocess.run(
            [sys.executable, "-m", "frontends.cli", "index", "corpus"],
            cwd=ROOT,
            env=env,
            check=True,
        )
        port = _free_port()
        url = f"http://127.0.0.1:{port}/"
        with (Path(tmp) / "app.log").open("w") as log:
            command = [sys.executable, "-c", SERVER, str(index), str(port)]
            server = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
            try:
                _wait(url, server)
                shoot(url, ROOT / "docs" / "screenshot.png", dark=False)
                shoot(url, ROOT / "docs" / "screenshot-dark.png", dark=True)
            finally:
                server.terminate()
                server.wait(timeout=30)


if __name__ == "__main__":
    main()
