"""What this machine can do in FP32, and what a BERT-style encoder pass costs.

`flops` counts an encoder forward pass (2 FLOPs per multiply-add; matmuls and attention's
L^2 terms, not layer norms, softmax, GELU or lookups). `cpu_ceiling` derives the FMA peak
from /proc/cpuinfo and says what it assumes; `sgemm_ceiling` measures what numpy's BLAS
reaches on a float32 matmul. Used by bench/embed_levers.py; Linux only.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np


def flops(tokens: float, layers: int, hidden: int, ffn: int) -> float:
    """Forward FLOPs of one encoder pass over `tokens` tokens (2 per multiply-add)."""
    matmuls = 8 * tokens * hidden * hidden + 4 * tokens * hidden * ffn  # QKVO + FFN up/down
    attention = 4 * tokens * tokens * hidden  # QK^T and PV, all heads together
    return float(layers * (matmuls + attention))


def cpu_ceiling(ghz: float | None, fma_pipes: int) -> dict[str, Any]:
    """FP32 FMA peak, with every assumption spelled out."""
    blocks = [b for b in Path("/proc/cpuinfo").read_text().split("\n\n") if b.strip()]
    procs = [dict(line.split(":", 1) for line in b.splitlines() if ":" in line) for b in blocks]
    procs = [{k.strip(): v.strip() for k, v in p.items()} for p in procs]
    allowed = os.sched_getaffinity(0)
    mine = [p for p in procs if int(p.get("processor", -1)) in allowed] or procs
    cores = len({(p.get("physical id"), p.get("core id")) for p in mine})
    first = mine[0]
    flags = set(first.get("flags", "").split())
    family, model = int(first.get("cpu family", 0)), int(first.get("model", 0))
    lanes = 16 if "avx512f" in flags else 8 if {"avx2", "fma"} <= flags else 4
    notes = [f"{lanes} fp32 lanes per FMA from the widest vector flag"]
    if first.get("vendor_id") == "AuthenticAMD" and family == 25 and lanes == 16:
        lanes = 8  # Zen 4 runs a 512-bit op as two 256-bit halves on its 256-bit FMA pipes
        notes.append("AMD family 25 (Zen 4): 512-bit FMAs are split in two, so 8 lanes/pipe")
    mhz = float(first.get("cpu MHz", 0) or 0)
    clock = ghz or mhz / 1000
    notes.append(
        f"{fma_pipes} FMA pipes per core (assumed); {clock:.2f} GHz "
        + ("(given)" if ghz else "(cpu MHz in /proc/cpuinfo; boost clocks may be higher)")
    )
    return {
        "model_name": first.get("model name"),
        "vendor": first.get("vendor_id"),
        "family": family,
        "model": model,
        "cores": cores,
        "vector_flags": sorted(f for f in flags if f.startswith(("avx", "fma", "amx"))),
        "ghz": round(clock, 3),
        "fma_pipes_per_core": fma_pipes,
        "fp32_lanes_per_pipe": lanes,
        "peak_fp32_gflops": round(cores * fma_pipes * lanes * 2 * clock, 1),
        "assumptions": notes,
    }


def sgemm_ceiling(n: int, repeat: int, cpu: dict[str, Any]) -> dict[str, Any]:
    """What the BLAS reaches on a big float32 matmul: a ceiling measured, not assumed."""
    rng = np.random.default_rng(0)
    a, b = rng.random((n, n), dtype=np.float32), rng.random((n, n), dtype=np.float32)
    a @ b  # warm-up: threads and pages
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        a @ b
        seconds.append(time.perf_counter() - started)
    best = min(seconds)
    gflops = 2 * n**3 / best / 1e9
    per_ghz = cpu["cores"] * cpu["fma_pipes_per_core"] * cpu["fp32_lanes_per_pipe"] * 2
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]["name"]
    except Exception:  # the layout of numpy's build info varies between versions
        blas = "unknown"
    return {
        "n": n,
        "blas": blas,
        "gflops": round(gflops, 1),
        # an FMA peak at the nominal clock below this means the cores run faster (boost)
        "implied_min_ghz": round(gflops / per_ghz, 2),
    }
