"""Listing the files to index (embeddings/files.py): depth, links, hidden and unreadable
folders."""

from __future__ import annotations

from pathlib import Path

import pytest

from embeddings.documents import SkipFile, load_document
from embeddings.files import iter_files


def test_iter_files_recurses_and_ignores_hidden_and_other_types(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "deep.txt").write_text("x")
    (tmp_path / ".hidden.txt").write_text("x")
    (tmp_path / "image.png").write_bytes(b"x")
    (tmp_path / "a" / "loop").symlink_to(tmp_path, target_is_directory=True)
    found = [p.name for p, _ in iter_files([tmp_path])]
    assert found == ["deep.txt"]


def test_iter_files_walks_deeper_than_the_recursion_limit(tmp_path: Path) -> None:
    import os
    import sys

    depth = sys.getrecursionlimit() + 100
    folder = tmp_path / "deep"
    folder.mkdir()
    (folder / "top.txt").write_text("The top file.")
    here = os.getcwd()
    try:
        os.chdir(folder)  # relative calls: each path stays short
        for _ in range(depth):
            os.mkdir("d")
            os.chdir("d")
        Path("bottom.txt").write_text("The deepest file.")
        found = [p for p, _ in iter_files([folder])]
        assert [p.name for p in found] == ["top.txt", "bottom.txt"]  # a folder's files first
        assert len(found[1].parts) > depth
    finally:
        os.chdir(folder)  # shutil.rmtree recurses too (pytest's clean-up): take it down here
        levels = 0
        while os.path.isdir("d"):
            os.chdir("d")
            levels += 1
        for name in os.listdir("."):
            os.remove(name)
        for _ in range(levels):
            os.chdir("..")
            os.rmdir("d")
        os.chdir(here)


def test_file_symlink_loops_and_broken_links_do_not_stop_the_walk(tmp_path: Path) -> None:
    (tmp_path / "a.txt").symlink_to(tmp_path / "b.txt")
    (tmp_path / "b.txt").symlink_to(tmp_path / "a.txt")
    (tmp_path / "broken.txt").symlink_to(tmp_path / "missing" / "gone.txt")
    (tmp_path / "real.txt").write_text("Real text.")
    (tmp_path / "link.txt").symlink_to(tmp_path / "real.txt")
    found = [p.name for p, _ in iter_files([tmp_path])]
    assert found == ["a.txt", "b.txt", "broken.txt", "link.txt"]  # real.txt is link.txt
    with pytest.raises(SkipFile, match="cannot stat"):
        load_document(tmp_path / "a.txt")


def test_a_folder_that_cannot_be_listed_comes_with_its_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    (tmp_path / "open").mkdir()
    (tmp_path / "open" / "a.txt").write_text("x")
    (tmp_path / "closed").mkdir()
    (tmp_path / "closed" / "b.txt").write_text("x")
    scandir = os.scandir

    def refuse(path):  # type: ignore[no-untyped-def]
        if isinstance(path, str | os.PathLike) and Path(path).name == "closed":
            raise PermissionError(13, "Permission denied")
        return scandir(path)

    monkeypatch.setattr(os, "scandir", refuse)  # tests run as root: chmod would not stop it
    found = [(p.name, why) for p, why in iter_files([tmp_path])]
    assert found == [("closed", "cannot list the folder: Permission denied"), ("a.txt", None)]
