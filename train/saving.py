"""Reader checkpoints (safetensors and JSON, no pickle) and the shipped weights' export."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from embeddings.onnx_e5 import E5File
from qa.reader import file_sha256
from train.model import ReaderModel


def save_checkpoint(
    model: ReaderModel, optimizer: torch.optim.Optimizer, state: dict[str, Any], where: Path
) -> None:
    from safetensors.torch import save_file

    where.mkdir(parents=True, exist_ok=True)
    trainable = {n: p.detach().contiguous() for n, p in model.named_parameters() if p.requires_grad}
    moments: dict[str, torch.Tensor] = {}
    for name, p in model.named_parameters():
        if p.requires_grad and p in optimizer.state:
            s = optimizer.state[p]
            moments[f"{name}.exp_avg"] = s["exp_avg"].contiguous()
            moments[f"{name}.exp_avg_sq"] = s["exp_avg_sq"].contiguous()
            state.setdefault("adam_steps", {})[name] = float(s["step"])
    save_file(trainable, str(where / "model.safetensors"))
    save_file(moments, str(where / "optimizer.safetensors"))
    (where / "state.json").write_text(json.dumps(state, indent=1), encoding="utf-8")


def load_checkpoint(
    model: ReaderModel, optimizer: torch.optim.Optimizer, where: Path
) -> dict[str, Any]:
    from safetensors.torch import load_file

    state = json.loads((where / "state.json").read_text(encoding="utf-8"))
    weights = load_file(str(where / "model.safetensors"))
    model.load_state_dict(weights, strict=False)
    moments = load_file(str(where / "optimizer.safetensors"))
    for name, p in model.named_parameters():
        if f"{name}.exp_avg" in moments:
            optimizer.state[p] = {
                "step": torch.tensor(state["adam_steps"][name]),
                "exp_avg": moments[f"{name}.exp_avg"],
                "exp_avg_sq": moments[f"{name}.exp_avg_sq"],
            }
    return state


def export(
    model: ReaderModel, base: E5File, card: dict[str, Any], weights: Path, out: Path
) -> None:
    from safetensors.numpy import save_file

    save_file(model.trained_tensors(), str(weights))
    card = {**card, "sha256": file_sha256(weights), "base_sha256": base.sha256}
    out.write_text(json.dumps(card, indent=1) + "\n", encoding="utf-8")
