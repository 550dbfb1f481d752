"""`citeqa eval`: retrieval and answer metrics of a QA set, a BEIR folder or SQuAD."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from citeqa.errors import BadInput
from frontends.cli.common import (
    AnswererOpt,
    EmbedderOpt,
    IndexOpt,
    JsonOpt,
    LLMOpt,
    LLMUrlOpt,
    PresetOpt,
    QuietOpt,
    answer_settings,
    app,
)


@app.command("eval")
def evaluate(
    dataset: Annotated[
        Path, typer.Argument(help="A QA .jsonl file, a BEIR folder or a SQuAD .json file.")
    ],
    index: IndexOpt = None,
    preset: PresetOpt = None,
    embedder: EmbedderOpt = None,
    modes: Annotated[str, typer.Option(help="Comma-separated: dense,bm25,hybrid")] = (
        "dense,bm25,hybrid"
    ),
    as_json: JsonOpt = False,
    report: Annotated[Path | None, typer.Option(help="Also write a markdown report here.")] = None,
    min_recall5: Annotated[
        float | None,
        typer.Option(help="Exit 1 when hybrid (else the first mode) Recall@5 is below this."),
    ] = None,
    answers: Annotated[bool, typer.Option(help="Also measure answers (QA sets only).")] = True,
    answerer: AnswererOpt = None,
    llm: LLMOpt = None,
    llm_base_url: LLMUrlOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Measure retrieval (nDCG@10, Recall@1/5/10/100, MRR@10) per mode and language pair,
    and for QA sets the answers (accuracy, citation precision, abstention)."""
    from citeqa.extras import require
    from eval import squad
    from eval.answers import answer_all, summary
    from eval.report import as_dict, markdown, text_table
    from eval.runner import prepare_squad, run_eval
    from qa.factory import open_service
    from qa.retrieval import MODES

    require("ranx", "eval")  # before any indexing or embedding
    chosen = [m.strip() for m in modes.split(",") if m.strip()]
    unknown = [m for m in chosen if m not in MODES]
    if unknown or not chosen:
        raise BadInput(f"unknown mode(s) {unknown}; choose from {', '.join(MODES)}")
    settings = answer_settings(index, embedder, answerer, llm, llm_base_url, preset=preset)
    answer_figures = None
    if squad.is_squad(dataset):
        dataset, settings = prepare_squad(dataset, settings, not quiet, index)
        index = settings.index
    data, result, retriever = run_eval(
        dataset,
        settings,
        chosen,  # type: ignore[arg-type]
        progress=not quiet,
        index_dir=index,
    )
    if answers and data.fmt == "qa":
        service = open_service(settings, retriever)
        answer_figures = summary(
            answer_all(service, data, progress=not quiet),
            service.threshold,
            service.answerer.name,
        )
    typer.echo(
        json.dumps(as_dict(result, answer_figures), ensure_ascii=False)
        if as_json
        else text_table(result, answer_figures)
    )
    if report is not None:
        report.write_text(markdown(result, answer_figures), encoding="utf-8")
    if min_recall5 is not None:
        gate = result.modes.get("hybrid") or next(iter(result.modes.values()))
        if gate.means["recall@5"] < min_recall5:
            typer.secho(
                f"citeqa: {gate.mode} Recall@5 {gate.means['recall@5']:.3f} is below {min_recall5}",
                err=True,
                fg=typer.colors.RED,
            )
            raise typer.Exit(1)
