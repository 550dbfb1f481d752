from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from embeddings.documents import SkipFile, doc_id_for, load_document
from embeddings.embedders import FakeEmbedder
from embeddings.textfile import iter_lines

COUNT = FakeEmbedder().count_tokens


def test_txt_title_language_and_stable_id(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("Kort verslag\n\nDe regering heeft besloten het geld te verdubbelen.")
    doc = load_document(path)
    assert doc.title == "Kort verslag"
    assert doc.lang == "nl"
    assert doc.doc_id == doc_id_for(doc.text)
    copy = tmp_path / "b.txt"
    copy.write_text(path.read_text())
    assert load_document(copy).doc_id == doc.doc_id


def test_markdown_heading_is_title(tmp_path: Path) -> None:
    path = tmp_path / "n.md"
    path.write_text("Intro line\n\n# The real title\n\nThe weather was sunny and warm today.")
    assert load_document(path).title == "The real title"


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.txt", b"", "no text"),
        ("blank.md", b"   \n\n", "no text"),
        ("binary.txt", b"\x00\x01\x02binary\x00", "binary"),
        ("broken.pdf", b"%PDF-1.4 this is not a pdf", "PDF"),
        ("broken.docx", b"PK\x03\x04 not a zip", "docx"),
        ("image.png", b"\x89PNG", "unsupported"),
    ],
)
def test_bad_files_are_skipped_with_a_reason(
    tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(SkipFile, match=reason):
        load_document(path)


def test_unreadable_file_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "locked.txt"
    path.write_text("some text")

    def denied(self: Path, *args: object, **kwargs: object) -> object:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "open", denied)  # tests run as root: chmod would not stop it
    with pytest.raises(SkipFile, match="permission denied"):
        load_document(path)


def test_oversized_file_is_skipped_without_reading(tmp_path: Path) -> None:
    from embeddings import documents

    path = tmp_path / "huge.txt"
    with path.open("wb") as handle:
        handle.truncate(documents.MAX_FILE_BYTES + 1)  # sparse: no disk, no memory
    with pytest.raises(SkipFile, match="over the 64 MiB limit") as skipped:
        load_document(path)
    assert "--max-file-mb 65 or CITEQA_INDEXING__MAX_FILE_MB=65" in str(skipped.value)
    text = tmp_path / "text.txt"
    text.write_text("About dikes. " * 121_000)  # 1.5 MiB
    with pytest.raises(SkipFile, match=r"file is 1\.5 MiB, over the 1 MiB limit"):
        load_document(text, max_bytes=2**20)
    assert "dikes" in load_document(text, max_bytes=2 * 2**20).text


def test_a_pipe_with_a_text_name_is_skipped_not_read(tmp_path: Path) -> None:
    import os

    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)  # reading it would block for ever
    with pytest.raises(SkipFile, match="not a regular file"):
        load_document(fifo)


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=st.sampled_from("ab \n\r\x0b\x0c\x1c\x85\u2028\u2029é€"), max_size=60))
def test_iter_lines_cuts_like_splitlines(text: str) -> None:
    lines = list(iter_lines(text))
    assert [line for _, line in lines] == text.splitlines(keepends=True)
    assert all(text[offset : offset + len(line)] == line for offset, line in lines)
