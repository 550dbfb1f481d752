"""What a first-time user waits for: `make run` on a new index until the page answers, then
the first question in a real browser (Debian chromium via Playwright).

Usage: python bench/first_run.py   (needs `make install` done and port 7860 free)
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "How much extra money does the Netherlands give to the Dutch Red Cross?"


def main() -> None:
    index = Path(tempfile.mkdtemp(prefix="citeqa-first-")) / "index"
    started = time.perf_counter()
    server = subprocess.Popen(
        ["make", "run", f"INDEX={index}"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        while True:
            try:
                with urllib.request.urlopen("http://127.0.0.1:7860/", timeout=2):
                    break
            except OSError:
                time.sleep(0.25)
        ready = time.perf_counter() - started
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path="/usr/bin/chromium",
                headless=True,
                args=["--no-sandbox", "--disable-gpu"],
            )
            page = browser.new_page()
            t = time.perf_counter()
            page.goto("http://127.0.0.1:7860/")
            page.locator("#question textarea").wait_for()
            page_load = time.perf_counter() - t
            page.locator("#question textarea").fill(QUESTION)
            t = time.perf_counter()
            page.locator("#ask").click()
            page.locator("#chat .message").nth(1).wait_for(timeout=60_000)
            first_text = time.perf_counter() - t
            page.wait_for_function(
                "document.querySelectorAll('#chat .citeqa-sources').length >= 1", timeout=60_000
            )
            complete = time.perf_counter() - t
            browser.close()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait()
        shutil.rmtree(index.parent, ignore_errors=True)
    print(
        json.dumps(
            {
                "make_run_until_page_answers_s": round(ready, 1),
                "page_load_s": round(page_load, 2),
                "first_answer_text_s": round(first_text, 2),
                "first_answer_complete_s": round(complete, 2),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
