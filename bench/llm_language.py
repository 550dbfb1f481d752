"""Which small offline LLM answers in the reader's language, with its [n] markers intact and
its citations supported: each model behind a real llama.cpp server on loopback, asked every
question of the QA set through citeqa's `llm` answerer (the service the CLI uses).

Per model: share of answers in the question's language (py3langid), share with valid [n]
markers, citation support rate, abstention rate, answer accuracy, latency p50/p95; overall,
per question language and per (question, source) language pair. Writes llm_language.json
and llm_language.md to --out. It measures; it changes no setting of citeqa.

Usage:
  python bench/llm_language.py [--index DIR] [--qa FILE] [--models smollm2,gemma3-270m]
                               [--limit N] [--prompt citeqa,language-last] [--out DIR]
  python bench/llm_language.py --base-url http://127.0.0.1:8080/v1 --alias NAME  # a running server
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from llm_figures import Record, breakdown, markdown
from llm_models import MODELS, llama_server, model_card
from provenance import source_version

from embeddings.errors import CiteqaError
from embeddings.language import detect_language
from eval.answers import has_acceptable_answer
from eval.datasets import contains
from qa.answer import Delta, Done, Retrieved
from qa.citations import parse_markers
from qa.factory import open_service
from qa.llm import LANGUAGE_NAMES, SYSTEM_PROMPT, LLMAnswerer, load_chat_model
from qa.service import QAService
from qa.settings import AnswerConfig, Settings

ROOT = Path(__file__).resolve().parent.parent

log = logging.getLogger("llm_language")

# Phrases of a refusal in words, in either language (the prompt's own sentence and the
# shorter forms small models write instead).
REFUSAL = re.compile(
    r"documents? do(?:es)? not contain|not (?:contain|mention)ed in the (?:passages|documents)|"
    r"documenten bevatten geen|bevatten geen antwoord|niet in de (?:passages|documenten)",
    re.I,
)

# --- the prompt variants (citeqa's own, and candidates to report to qa/llm.py's owner) ----


class LanguageLastAnswerer(LLMAnswerer):
    """citeqa's prompt, with the answer language repeated at the very end of the user turn,
    where a small model attends most."""

    def messages(self, question: str, passages: Sequence[Any], lang: str) -> list[Any]:
        messages = super().messages(question, passages, lang)
        language = LANGUAGE_NAMES.get(lang, "the language of the question")
        last = messages[-1]
        content = str(last.content)
        tail = "Answer with [n] markers:"
        if content.endswith(tail):
            content = content[: -len(tail)] + f"Answer in {language}, with [n] markers:"
        else:
            content += f"\n\nAnswer in {language}, with [n] markers:"
        return [*messages[:-1], type(last)(content)]


PROMPTS: dict[str, type[LLMAnswerer]] = {
    "citeqa": LLMAnswerer,
    "language-last": LanguageLastAnswerer,
}

# --- asking -------------------------------------------------------------------------------


def load_questions(path: Path) -> list[dict[str, Any]]:
    """The QA set's one-turn questions (rows with an earlier turn are follow-up cases)."""
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SystemExit(f"{path}:{n}: not JSON ({exc.msg})") from None
        if row.get("after") or row.get("history"):
            continue
        rows.append(row)
    return rows


def spread(rows: Sequence[dict[str, Any]], limit: int | None) -> list[dict[str, Any]]:
    """`limit` rows taken in turn from each (language, answerable) group, or all rows."""
    if not limit or limit >= len(rows):
        return list(rows)
    groups: dict[tuple[Any, Any], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row.get("lang"), row.get("answerable", True)), []).append(row)
    queues = [iter(group) for group in groups.values()]
    picked: list[dict[str, Any]] = []
    while len(picked) < limit:
        for queue in queues:
            item = next(queue, None)
            if item is not None and len(picked) < limit:
                picked.append(item)
    return picked


def pair(question_lang: str, source_langs: Sequence[str]) -> str:
    """'en→nl' for an English question whose evidence is Dutch; 'en→none' when there is none."""
    langs = set(source_langs)
    target = "none" if not langs else langs.pop() if len(langs) == 1 else "mixed"
    return f"{question_lang}→{target}"


_PROMPT_PIECES = [*re.split(r"\{\w+\}", SYSTEM_PROMPT), '<passage id="', "Answer with [n] markers"]


def echoes_prompt(text: str, window: int = 40) -> bool:
    """Whether the LLM wrote back part of citeqa's prompt (a base model continuing the text)."""
    if any(piece in text for piece in _PROMPT_PIECES[-2:]):
        return True
    windows = (text[i : i + window] for i in range(0, max(1, len(text) - window + 1), 10))
    return any(len(w) == window and any(w in p for p in _PROMPT_PIECES) for w in windows)


def answer_language(text: str) -> str:
    """'nl', 'en' or 'other' for an answer, its [n] markers left out."""
    return detect_language(re.sub(r"\[[\d,\s]+\]", " ", text))


def ask(
    service: QAService,
    answerer: LLMAnswerer,
    row: dict[str, Any],
    doc_langs: dict[str, str],
) -> Record:
    question, lang = row["question"], row.get("lang") or "en"
    started = time.perf_counter()
    first: float | None = None
    pieces: list[str] = []
    given = 0
    answer = None
    lang_pair = pair(lang, [doc_langs.get(s, "other") for s in row.get("gold_sources", [])])
    answerable = bool(row.get("answerable", True))
    try:
        for event in service.stream(question, answerer=answerer):
            if isinstance(event, Retrieved):
                given = len(event.hits)
            elif isinstance(event, Delta):
                first = first if first is not None else time.perf_counter() - started
                pieces.append(event.text)
            elif isinstance(event, Done):
                answer = event.answer
    except CiteqaError as exc:
        log.warning("%s: %s", row["id"], exc)
        return Record(
            row["id"], lang, answerable, lang_pair, "", "", True, False, "other", 0, False,
            0, 0, 0, False, round(time.perf_counter() - started, 3), None, str(exc)[:300],
        )  # fmt: skip
    latency = time.perf_counter() - started
    assert answer is not None  # the service always ends with Done
    raw = "".join(pieces).strip()
    markers = parse_markers(raw)
    echo = echoes_prompt(raw)
    evidence = [e["text"] for e in row.get("evidence", [])]
    on_evidence = sum(
        1 for c in answer.citations if any(contains(c.passage, text) for text in evidence)
    )
    return Record(
        qid=row["id"],
        lang=lang,
        answerable=answerable,
        pair=lang_pair,
        raw=raw,
        text=answer.text,
        abstained=answer.abstained,
        refused_in_words=bool(REFUSAL.search(raw)),
        answer_lang=answer_language(raw),
        markers=len(markers),
        markers_valid=bool(markers) and all(1 <= n <= given for n in markers) and not echo,
        citations=len(answer.citations),
        supported=sum(c.supported for c in answer.citations),
        citations_on_evidence=on_evidence,
        correct=answerable
        and not answer.abstained
        and has_acceptable_answer(answer.text, row.get("answers", [])),
        latency_s=round(latency, 3),
        first_token_s=None if first is None else round(first, 3),
        echoed_prompt=echo,
    )


# --- entry point --------------------------------------------------------------------------


def run_model(
    service: QAService,
    url: str,
    alias: str,
    rows: Sequence[dict[str, Any]],
    prompt: str,
    max_tokens: int,
    timeout: float,
    doc_langs: dict[str, str],
    answered: Callable[[list[Record]], None] = lambda records: None,
) -> list[Record]:
    # langchain-openai sends max_tokens as max_completion_tokens, which llama.cpp's server
    # ignores; extra_body puts max_tokens itself into the request
    chat = load_chat_model(f"openai:{alias}", url, timeout=timeout).bind(
        max_tokens=max_tokens, extra_body={"max_tokens": max_tokens}
    )
    answerer = PROMPTS[prompt](chat, url)
    records = []
    for row in rows:
        record = ask(service, answerer, row, doc_langs)
        log.info(
            "%s %s %s %s %.1fs %r", alias, prompt, record.qid, record.answer_lang,
            record.latency_s, record.raw[:80],
        )  # fmt: skip
        records.append(record)
        answered(records)
    return records


def rescore(path: Path) -> dict[str, Any]:
    """Recompute the figures of a saved result (after a change to how answers are judged)."""
    result = dict(json.loads(path.read_text(encoding="utf-8")))
    for run in result["runs"]:
        records = [Record(**a) for a in run.get("answers", [])]
        for r in records:
            r.echoed_prompt = echoes_prompt(r.raw)
            r.markers_valid = r.markers_valid and not r.echoed_prompt
        run["answers"] = [asdict(r) for r in records]
        run["figures"] = breakdown(records)
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
    path.with_suffix(".md").write_text(markdown(result), encoding="utf-8")
    return result


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, default=ROOT / ".citeqa/index")
    parser.add_argument("--qa", type=Path, default=ROOT / "eval/qa/corpus_qa.jsonl")
    parser.add_argument("--models", default="smollm2,gemma3-270m", help=", ".join(MODELS))
    parser.add_argument("--prompt", default="citeqa", help=", ".join(PROMPTS))
    parser.add_argument("--limit", type=int, default=None, help="questions, spread over the set")
    parser.add_argument("--quick", action="store_true", help="4 questions (smoke test)")
    parser.add_argument("--base-url", help="a server already running (skips --models)")
    parser.add_argument("--alias", default="local", help="its model name, with --base-url")
    parser.add_argument("--models-dir", type=Path, default=ROOT / ".citeqa/models")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--n-ctx", type=int, default=4096)
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--timeout", type=float, default=180.0)
    parser.add_argument(
        "--min-evidence",
        type=float,
        default=float("-inf"),
        help="citeqa's evidence gate before the LLM; off by default, so that every question "
        "reaches the model being measured",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results")
    parser.add_argument("--rescore", type=Path, help="recompute a saved llm_language.json")
    args = parser.parse_args(argv)
    if args.rescore:
        return rescore(args.rescore)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for noisy in ("bm25s", "httpx", "openai"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    prompts = [p.strip() for p in args.prompt.split(",") if p.strip()]
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [p for p in prompts if p not in PROMPTS] + [m for m in models if m not in MODELS]
    if unknown:
        parser.error(f"unknown: {', '.join(unknown)}")
    if not (args.index / "CURRENT").is_file():
        parser.error(f"no index at {args.index}: run `citeqa index corpus/ --index {args.index}`")
    rows = spread(load_questions(args.qa), 4 if args.quick else args.limit)
    settings = Settings(
        index=args.index,
        answer=AnswerConfig(
            answerer="llm",
            llm="openai:local",
            llm_base_url="http://unused",  # each run passes its own answerer
            min_evidence=args.min_evidence,
        ),
    )
    service = open_service(settings)
    index = service.retriever.index
    doc_langs = {Path(d.source).name: d.lang for d in index.documents()}

    runs: list[dict[str, Any]] = []
    args.out.mkdir(parents=True, exist_ok=True)
    result = {
        "command": "python bench/llm_language.py " + " ".join(argv or sys.argv[1:]),
        "source_version": source_version(),
        "qa": str(args.qa.relative_to(ROOT) if args.qa.is_relative_to(ROOT) else args.qa),
        "questions": len(rows),
        "threads": args.threads,
        "n_ctx": args.n_ctx,
        "max_tokens": args.max_tokens,
        "min_evidence": args.min_evidence if math.isfinite(args.min_evidence) else "off",
        "runs": runs,
    }

    def save() -> None:
        (args.out / "llm_language.json").write_text(
            json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8"
        )
        (args.out / "llm_language.md").write_text(markdown(result), encoding="utf-8")

    if args.base_url:
        targets: list[tuple[str, Any]] = [(args.alias, None)]
    else:
        args.models_dir.mkdir(parents=True, exist_ok=True)
        targets = [(m, MODELS[m]) for m in models]
    for name, spec in targets:
        with contextlib.ExitStack() as stack:
            if spec is None:
                url, load_s, card = args.base_url, 0.0, {"name": name}
            else:
                gguf = spec.locate(args.models_dir)
                card = model_card(gguf)
                url, load_s = stack.enter_context(
                    llama_server(
                        gguf, name, spec.chat_format, args.threads, args.n_ctx,
                        args.models_dir / f"{name}.server.log",
                    )
                )  # fmt: skip
            for prompt in prompts:
                run: dict[str, Any] = {
                    "model": name,
                    "prompt": prompt,
                    "model_card": card,
                    "load_s": round(load_s, 2),
                }
                runs.append(run)

                def answered(records: list[Record], run: dict[str, Any] = run) -> None:
                    # saved after every answer: a slow run keeps what it measured
                    run["figures"] = breakdown(records)
                    run["answers"] = [asdict(r) for r in records]
                    save()

                run_model(
                    service, url, name, rows, prompt, args.max_tokens, args.timeout,
                    doc_langs, answered,
                )  # fmt: skip
    for run in runs:
        figures = run["figures"]["all"]
        print(
            f"{run['model']:12} {run['prompt']:14} language {figures['in_question_language']} "
            f"markers {figures['markers_valid']} supported {figures['citations_supported']} "
            f"abstained(A) {figures['abstained_answerable']} "
            f"p50 {figures['latency_p50_s']} s p95 {figures['latency_p95_s']} s"
        )
    return result


if __name__ == "__main__":
    main()
