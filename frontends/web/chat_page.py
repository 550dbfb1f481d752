"""How the chat looks and behaves in the page: its CSS and the two small scripts its HTML
runs, kept as files in assets/ (package data) and read once when the UI is built. No Gradio
and no Python logic here (app.py places these; chat_ui.py renders the HTML they style).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources


@dataclass(frozen=True)
class PageAssets:
    css: str  # assets/chat.css: both themes, every colour pair at WCAG AA contrast
    chat_js: str  # assets/chat.js: citation markers, the viewer's opener, Copy, Retry, scrolling
    viewer_js: str  # assets/viewer.js: the cited span in view


@cache
def page_assets() -> PageAssets:
    """The page's CSS and scripts, read from the package (an installed one too)."""
    folder = resources.files("frontends.web") / "assets"
    return PageAssets(
        *(
            (folder / name).read_text(encoding="utf-8")
            for name in ("chat.css", "chat.js", "viewer.js")
        )
    )


__all__ = ["PageAssets", "page_assets"]
