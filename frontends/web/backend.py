"""Index changes from the UI: uploads (checked origin, name, type and size), removals and the
document list, one writer at a time; the shared `QAService` then serves the new generation.

No Gradio here: the adapter in app.py hands over plain paths and names. Uploads are kept in
the index's own `<index>/uploads/` folder, so sibling indexes never share or delete each
other's files.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import stat
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from citeqa.settings import IndexingConfig
from embeddings.documents import Document, SkipFile, load_document
from embeddings.embedders import Embedder
from embeddings.errors import BadInput
from embeddings.reading import SUPPORTED_SUFFIXES
from embeddings.store import Index
from qa.service import QAService

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
_HASH_NAME = re.compile(r"[0-9a-f]{12,}", re.I)


@dataclass(frozen=True)
class Upload:
    """A file handed over by the web layer: where it lies now, and the name the user gave it."""

    path: Path
    name: str


@dataclass
class UploadReport:
    added: list[str] = field(default_factory=list)  # stored names, indexed now
    updated: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (name, why)
    passages: int = 0

    @property
    def message(self) -> str:
        lines = [
            f"Added {len(self.added)}, updated {len(self.updated)}; "
            f"{self.passages} passages embedded."
        ]
        lines += [f"refused {name}: {why}" for name, why in self.refused]
        return "\n".join(lines)


def safe_upload_name(name: str) -> str:
    """A plain file name for an upload; refuses paths, hidden names and unknown types.

    Characters outside letters, digits, `.`, `-`, `_` and space become `_`, and a name that
    changed gets a short hash of the original, so `a<b.txt` and `a>b.txt` stay two files.
    """
    base = Path(name.replace("\\", "/")).name
    if not base or base in (".", "..") or base.startswith("."):
        raise BadInput(f"Refused file name {name!r}.")
    suffix = Path(base).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise BadInput(f"{base}: only {', '.join(SUPPORTED_SUFFIXES)} files can be added.")
    stem = base[: -len(suffix)]
    cleaned = re.sub(r"[^\w.\- ]", "_", stem, flags=re.ASCII)[:100].strip() or "upload"
    if cleaned != stem:
        cleaned += "-" + hashlib.sha256(base.encode("utf-8")).hexdigest()[:8]
    return cleaned + suffix


def _with_digest(name: str, path: Path) -> str:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:8]
    suffix = Path(name).suffix
    return f"{name[: -len(suffix)]}-{digest}{suffix}"


def is_inside(path: Path, folder: Path) -> bool:
    """True when `path` (links resolved) lies strictly inside `folder` (links resolved)."""
    real, root = os.path.realpath(path), os.path.realpath(folder)
    return real != root and real.startswith(root.rstrip(os.sep) + os.sep)


def display_name(title: str, source: str) -> str:
    """How a document is named to people: its title when it is one, else its file name.

    A "title" that is a cut-off or whole first sentence (news articles have no title line)
    reads worse than the file name, and a hash file name worse than a short title.
    """
    name = Path(source).name
    title = " ".join((title or "").split())
    sentence = title.endswith(("…", "...")) or (
        title.endswith((".", "!", "?")) and len(title.split()) > 8
    )
    if title and title != name and len(title) <= 100 and not sentence:
        return title
    if _HASH_NAME.search(Path(name).stem) and title:
        short = title if len(title) <= 60 else title[:60].rsplit(" ", 1)[0].rstrip(",;:") + "…"
        return f"{short} ({name})"
    return name


class Backend:
    """What the UI changes: uploads into `<index>/uploads/`, removals, the document list."""

    def __init__(
        self,
        service: QAService,
        embedder_spec: str,
        inbox: Path | None = None,
        uploaded: Callable[[Path], bool] | None = None,
        indexing: IndexingConfig | None = None,
    ) -> None:
        """`inbox`: the only folder uploads may come from (the web server's upload folder);
        `uploaded`: whether the web server itself received this file from a browser;
        `indexing`: the settings section the uploads are indexed with (`max_file_seconds`,
        how long one upload may take to read; `document_vectors`), its own size limit aside."""
        self.service = service
        self.embedder_spec = embedder_spec
        self.indexing = indexing or IndexingConfig()
        self.inbox = inbox
        self.uploaded = uploaded
        self._write_lock = threading.Lock()

    @property
    def index(self) -> Index:
        return self.service.current_retriever().index

    @property
    def uploads(self) -> Path:
        from embeddings.stores import is_remote

        if is_remote(self.index.root):  # milvus:...: no index directory to keep them in
            return Path(".citeqa") / "uploads"
        return self.index.root / "uploads"

    @property
    def embedder(self) -> Embedder:
        return self.service.retriever.embedder

    def reload(self) -> None:
        """Load the generation this process just wrote; questions in flight keep theirs."""
        self.service.current_retriever(wait=True)

    def documents(self) -> list[dict[str, str | int]]:
        """Every indexed document: source (its id for `remove`), name, title, lang, passages."""
        return [
            {
                "source": d.source,
                "name": display_name(d.title, d.source),
                "file": Path(d.source).name,
                "title": d.title,
                "lang": d.lang,
                "passages": d.chunks,
            }
            for d in self.index.documents()
        ]

    def page_of(self, source: str, offset: int) -> int | None:
        """The page a document offset falls on, for paged formats (PDF); None otherwise."""
        page = None
        for start, number in self.index.document_pages(source):
            if start > offset:
                break
            page = number
        return page

    def _check(self, upload: Upload) -> str:
        """The stored name of an acceptable upload; raises BadInput with the reason otherwise."""
        name = safe_upload_name(upload.name)
        if self.inbox is not None and not is_inside(upload.path, self.inbox):
            raise BadInput("not a file uploaded through this page")
        if self.uploaded is not None and not self.uploaded(upload.path):
            raise BadInput("not a file uploaded through this page")
        try:
            info = os.lstat(upload.path)
        except OSError as exc:
            raise BadInput("the uploaded file is gone; upload it again") from exc
        if not stat.S_ISREG(info.st_mode):
            raise BadInput("not a regular file")
        if info.st_size > MAX_UPLOAD_BYTES:
            raise BadInput(f"larger than {MAX_UPLOAD_BYTES // 2**20} MiB")
        return name

    def _discard(self, path: Path) -> None:
        """Delete a consumed or refused upload, but only from the upload folder."""
        if self.inbox is not None and is_inside(path, self.inbox):
            try:
                os.unlink(path)
            except OSError as exc:
                log.warning("could not delete %s: %s", path, exc)

    def add_files(
        self, files: Sequence[Upload | str | Path], progress: bool = False
    ) -> UploadReport:
        """Copy the acceptable files into `<index>/uploads/` and index them now.

        Each file is copied to a hidden folder there and read (its text extracted, within
        the size and time limits) before the write lock is taken, so a slow or hostile file
        holds up no other upload or removal; under the lock the read files are moved in
        and indexed. Refused files are listed with the reason; the others are indexed all
        the same. With an inbox, every handed-over file is deleted from it afterwards.
        """
        uploads = [f if isinstance(f, Upload) else Upload(Path(f), Path(f).name) for f in files]
        report = UploadReport()
        target_dir = self.uploads
        staged: dict[str, tuple[Path, Document]] = {}  # stored path -> (staged copy, text)
        names: dict[str, str] = {}  # stored path -> shown name
        staging: Path | None = None
        try:
            for upload in uploads:
                try:
                    name = self._check(upload)
                except BadInput as exc:
                    report.refused.append((Path(upload.name).name or "?", str(exc)))
                    continue
                if name in names.values():  # two files of one batch, one name
                    name = _with_digest(name, upload.path)
                if staging is None:
                    target_dir.mkdir(parents=True, exist_ok=True)
                    staging = Path(tempfile.mkdtemp(prefix=".incoming-", dir=target_dir))
                copy = staging / name
                shutil.copyfile(upload.path, copy)
                target = os.path.realpath(target_dir / name)
                try:
                    seconds = self.indexing.max_file_seconds
                    doc = load_document(copy, target, MAX_UPLOAD_BYTES, seconds)
                except SkipFile as exc:
                    report.refused.append((name, str(exc)))
                    continue
                staged[target], names[target] = (copy, doc), name
            if staged:
                self._index(staged, report, progress)
        finally:
            for upload in uploads:
                self._discard(upload.path)
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)
        return report

    def _index(
        self, staged: dict[str, tuple[Path, Document]], report: UploadReport, progress: bool
    ) -> None:
        """Under the write lock: move the read files in and index them (the documents read
        already are used, not read again)."""
        from citeqa.settings import ChunkingConfig
        from embeddings.indexer import index_paths

        def read(path: Path, source: str) -> Document:
            if source in staged:
                return staged[source][1]
            return load_document(path, source, MAX_UPLOAD_BYTES, self.indexing.max_file_seconds)

        with self._write_lock:
            target_dir = self.uploads
            for target, (copy, _) in staged.items():
                os.replace(copy, target)
            chunking = self.index.manifest["chunking"]
            result = index_paths(
                [target_dir],
                self.index.root,
                lambda: self.embedder,
                self.embedder_spec,
                ChunkingConfig(
                    max_tokens=chunking["max_tokens"], overlap_tokens=chunking["overlap_tokens"]
                ),
                progress=progress,
                indexing=self.indexing,
                max_file_bytes=MAX_UPLOAD_BYTES,
                read=read,
            )
            self.reload()
        shown = {target: staged[target][0].name for target in staged}
        report.added = [shown.get(s, Path(s).name) for s in result.added]
        report.updated = [shown.get(s, Path(s).name) for s in result.updated]
        report.passages = result.chunks_embedded
        for path, why in result.skipped:
            real = os.path.realpath(path)
            report.refused.append((shown.get(real, Path(path).name), why))
            if real in staged:  # kept out of the index: not kept on disk either
                Path(real).unlink(missing_ok=True)

    def remove(self, source: str) -> str:
        """Take one document out of the index; an uploaded file is deleted too."""
        from embeddings.indexer import remove_sources

        with self._write_lock:
            removed = remove_sources(self.index.root, [source])
            self.reload()
            path = Path(source)
            if removed and is_inside(path, self.uploads) and path.is_file():
                path.unlink()  # an upload is gone for good; a folder's file would come back
        name = Path(source).name
        return f"Removed {name}." if removed else f"{name} is not in the index."


__all__ = ["MAX_UPLOAD_BYTES", "Backend", "Upload", "UploadReport", "display_name"]
