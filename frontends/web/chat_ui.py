"""The chat's inert HTML, rendered from the turns' views (views.py): turns, citations, the
answer in progress, the document viewer and the retrieval debugger.

Everything from documents, questions and model output is HTML-escaped here, and nothing is
rendered as a link or image except our own in-page [n] anchors, so a document cannot make
the browser fetch anything. No Gradio here (app.py places the HTML in components).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from frontends.web.backend import display_name
from frontends.web.views import View, cut_at_word, plain_text
from qa.retrieval import Hit

_MARKER = re.compile(r"(?<!\\)\[(\d{1,3})\]")  # "\\[2]": a document's own, shown as text


def e(text: Any) -> str:
    return html.escape(str(text), quote=True)


SNIPPET = 240  # characters of a related passage shown
LABEL = 80  # characters of a question or answer in its aria-label


def _title_key(name: str) -> str:
    """Near-identical titles compare equal: case, spacing and a trailing cut ignored."""
    return " ".join(name.casefold().rstrip("…. ").split())


def render_related(related: Sequence[View]) -> str:
    """The closest passages of a refused question: one entry per document (near-identical
    titles shown once), its file name apart from the text, each snippet cut at a word."""
    groups: dict[str, tuple[str, list[str], list[str]]] = {}
    for r in related:
        name = display_name(r["title"], r["source"])
        file = Path(r["source"]).name
        key = _title_key(r["title"] or file)
        _, files, snippets = groups.setdefault(key, (name, [], []))
        if file and file not in files and f"({file})" not in name and file != name:
            files.append(file)
        snippet = cut_at_word(r["text"], SNIPPET)
        if snippet and snippet not in snippets:
            snippets.append(snippet)
    items = "".join(
        f"<li><p class='citeqa-rel-head'><b>{e(name)}</b>"
        + (f" <span class='citeqa-meta'>· {e(', '.join(files))}</span>" if files else "")
        + "</p>"
        + "".join(f"<p class='citeqa-snippet'>{e(t)}</p>" for t in snippets)
        + "</li>"
        for name, files, snippets in groups.values()
    )
    return (
        "<div class='citeqa-related'><b>Related passages</b> "
        "<span class='citeqa-meta'>(not an answer: the closest text found)</span>"
        f"<ul>{items}</ul></div>"
    )


def _marked(passage: str, spans: Iterable[tuple[int, int]]) -> str:
    """The passage, escaped, with every span (local offsets) in <mark>."""
    out, at = [], 0
    for s, t in sorted((max(0, s), min(len(passage), t)) for s, t in spans):
        if t <= at:
            continue
        s = max(s, at)
        out += [e(passage[at:s]), f"<mark>{e(passage[s:t])}</mark>"]
        at = t
    out.append(e(passage[at:]))
    return "".join(out)


def render_citation(c: View, anchor: str) -> str:
    base = c["passage_start"]
    spans = [(s - base, t - base) for s, t in (c["spans"] or [[c["start"], c["end"]]])]
    quotes = " … ".join(
        f"<mark>{e(c['passage'][max(0, s) : max(0, t)])}</mark>" for s, t in sorted(spans)
    )
    name = display_name(c["title"], c["source"])
    file = Path(c["source"]).name
    meta = [file] if file != name and not name.endswith(f"({file})") else []
    if c.get("page") is not None and c["page"] >= 0:
        meta.append(f"page {c['page']}")
    meta += [c["lang"], f"characters {c['start']}–{c['end']}"]
    if not c["supported"]:
        meta.append("⚠️ not supported")
    return (
        f"<details class='citeqa-source' id='{anchor}'>"
        f"<summary><b>[{c['n']}] {e(name)}</b> "
        f"<span class='citeqa-meta'>{e(' · '.join(meta))}</span></summary>"
        f"<blockquote>{quotes}</blockquote>"
        f"<div class='citeqa-passage'><span class='citeqa-meta'>whole passage</span>"
        f"<p>{_marked(c['passage'], spans)}</p></div>"
        f"<button type='button' class='citeqa-open' data-source='{e(c['source'])}' "
        f"data-start='{int(c['start'])}' data-end='{int(c['end'])}'>Open the document</button>"
        f"</details>"
    )


DOCUMENT_WINDOW = 50_000  # characters shown either side of the cited span


def render_document(name: str, text: str, start: int, end: int, page: int | None = None) -> str:
    """The whole document (up to DOCUMENT_WINDOW characters either side of the span),
    escaped, with the cited span marked for the viewer to scroll to."""
    start, end = max(0, min(start, len(text))), max(0, min(end, len(text)))
    start, end = min(start, end), max(start, end)
    lo, hi = max(0, start - DOCUMENT_WINDOW), min(len(text), end + DOCUMENT_WINDOW)
    meta = [f"page {page}"] if page is not None else []
    meta.append(f"characters {start}–{end} of {len(text)}")
    return (
        f"<div class='citeqa-doc'><p class='citeqa-doc-head'><b>{e(name)}</b> "
        f"<span class='citeqa-meta'>{e(' · '.join(meta))}</span></p>"
        f"<div class='citeqa-doc-text'>{'… ' if lo else ''}{e(text[lo:start])}"
        f"<mark class='citeqa-cited'>{e(text[start:end])}</mark>{e(text[end:hi])}"
        f"{' …' if hi < len(text) else ''}</div></div>"
    )


def render_answer_text(view: View, anchor: str) -> str:
    """The answer, escaped; the reader's short answer in bold; unsupported sentences
    marked; [n] markers link to their source."""
    span = view.get("span")
    if span:
        raw = view["text"]
        text = (
            f"{e(raw[: span[0]])}<strong class='citeqa-span'>{e(raw[span[0] : span[1]])}"
            f"</strong>{e(raw[span[1] :])}"
        )
    else:
        text = e(view["text"])
    for sentence in view["unsupported"]:
        s = e(sentence.rstrip(".!?"))
        if s:
            text = text.replace(
                s,
                f"<span class='citeqa-unsupported' title='not supported by the cited passage'>"
                f"{s}</span> ⚠️",
                1,
            )
    cited = {c["n"] for c in view["citations"]}

    def link(match: re.Match[str]) -> str:
        n = int(match.group(1))
        if n not in cited:
            return match.group(0)
        return (
            f"<a class='citeqa-marker' href='#{anchor}-s{n}' data-source='{anchor}-s{n}' "
            f"aria-label='source {n}'>[{n}]</a>"
        )

    return re.sub(r"\\(\[\d)", r"\1", _MARKER.sub(link, text))


def render_answer(view: View, anchor: str = "citeqa-a") -> str:
    """One answer (no question): text, sources, related passages of an abstention."""
    if view.get("error"):
        return f"<p class='citeqa-error'>⚠️ {e(view['error'])}</p>"
    parts = [f"<p class='citeqa-text'>{render_answer_text(view, anchor)}</p>"]
    if view["citations"]:
        sources = "".join(render_citation(c, f"{anchor}-s{c['n']}") for c in view["citations"])
        parts.append(f"<div class='citeqa-sources'><b>Sources</b>{sources}</div>")
    if view["related"]:
        parts.append(render_related(view["related"]))
    return "".join(parts)


def _question(text: str) -> str:
    label = e(cut_at_word(text, LABEL))
    return (
        f"<div class='citeqa-q' role='article' aria-label='Question: {label}'>"
        f"<p>{e(text)}</p></div>"
    )


def answer_label(view: View) -> str:
    """A short name for the answer (screen readers list articles by it; the text itself is
    read from the content): its start and how many sources, never the whole answer."""
    if view.get("error"):
        return "Answer: an error"
    n = len(view["citations"])
    sources = f", {n} source{'s' if n != 1 else ''}" if n else ""
    refused = ", not answered by the documents" if view["abstained"] and not n else ""
    return f"Answer: {cut_at_word(view['text'], LABEL)}{sources}{refused}"


STOPPED = "Stopped — this answer was not finished or checked."


def _stopped_turn(view: View, anchor: str) -> str:
    partial = f"<p class='citeqa-text'>{e(view['text'])}</p>" if view["text"] else ""
    return (
        f"<div class='citeqa-turn' id='{anchor}'>{_question(view['question'])}"
        f"<div class='citeqa-a citeqa-stopped' role='article' aria-label='Stopped answer'>"
        f"<p class='citeqa-state'>{e(STOPPED)}</p>{partial}"
        f"<button type='button' class='citeqa-retry' aria-label='Ask this question again'>"
        f"Retry</button></div></div>"
    )


def render_turn(view: View, i: int) -> str:
    anchor = f"citeqa-t{i}"
    if view.get("stopped"):
        return _stopped_turn(view, anchor)
    plain = plain_text(view)
    return (
        f"<div class='citeqa-turn' id='{anchor}'>{_question(view['question'])}"
        f"<div class='citeqa-a' role='article' aria-label='{e(answer_label(view))}' "
        f"data-plain='{e(plain)}'>{render_answer(view, anchor)}"
        f"<button type='button' class='citeqa-copy' aria-label='Copy this answer as text'>"
        f"Copy</button></div></div>"
    )


def render_pending(question: str, status: str, text: str = "") -> str:
    partial = f"<p class='citeqa-text'>{e(text)}</p>" if text else ""
    return (
        f"<div class='citeqa-turn citeqa-pending'>{_question(question)}"
        f"<div class='citeqa-a' aria-busy='true'><p class='citeqa-state' role='status' "
        f"aria-live='polite'>{e(status)}</p>{partial}</div></div>"
    )


def render_conversation(turns: Sequence[View], pending: str = "") -> str:
    if not turns and not pending:
        return (
            "<div class='citeqa-empty'>Ask a question in Dutch or English; every claim "
            "points at the passage it comes from.</div>"
        )
    return "".join(render_turn(t, i) for i, t in enumerate(turns)) + pending


def render_hits(hits: list[Hit], searched: str = "") -> str:
    """The retrieval debugger: what was searched for (a follow-up carries the question
    before it), then every passage with its dense, BM25 and fused scores."""
    query = f"<p class='citeqa-searched'>Searched for: <q>{e(searched)}</q></p>" if searched else ""
    if not hits:
        return query + "<p>No passages retrieved.</p>"

    def num(value: float | None) -> str:
        return "–" if value is None else f"{value:.4f}"

    rows = [
        f"<tr><td>{h.rank}</td><td>{num(h.dense)}</td><td>{num(h.bm25)}</td>"
        f"<td>{num(h.fused)}</td><td>{e(display_name(h.chunk.title, h.chunk.source))}</td>"
        f"<td>{e(h.chunk.lang)}</td><td>{e(h.chunk.text[:400])}</td></tr>"
        for h in hits
    ]
    return (
        query + "<div class='citeqa-scroll'><table><thead><tr><th>#</th><th>dense</th><th>BM25</th>"
        "<th>fused</th><th>source</th><th>lang</th><th>passage</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table></div>"
    )


__all__ = [
    "answer_label",
    "e",
    "render_answer",
    "render_answer_text",
    "render_conversation",
    "render_document",
    "render_hits",
    "render_pending",
    "render_turn",
]
