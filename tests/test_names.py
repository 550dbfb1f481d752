"""Documents named for remote clients: below the collection's shared folder, uploads as
uploads/NAME, never the server's absolute path."""

from __future__ import annotations

from pathlib import Path

from embeddings.store import Index
from qa.names import names_of, public_names, publish


def test_names_below_the_shared_folder_and_uploads() -> None:
    names = public_names(
        ["/srv/data/corpus/a.txt", "/srv/data/corpus/sub/b.pdf", "/srv/ix/uploads/c.md"],
        uploads="/srv/ix/uploads",
    )
    assert names == {
        "/srv/data/corpus/a.txt": "a.txt",
        "/srv/data/corpus/sub/b.pdf": "sub/b.pdf",
        "/srv/ix/uploads/c.md": "uploads/c.md",
    }
    two_roots = public_names(["/home/u/news/x.txt", "/home/u/letters/y.txt"])
    assert two_roots == {
        "/home/u/news/x.txt": "news/x.txt",
        "/home/u/letters/y.txt": "letters/y.txt",
    }
    assert public_names(["/only/one.txt"]) == {"/only/one.txt": "one.txt"}
    # a folder merely starting like the uploads folder is not it
    assert public_names(["/srv/ix/uploads2/d.txt"], "/srv/ix/uploads") == {
        "/srv/ix/uploads2/d.txt": "d.txt"
    }


def test_publish_renames_every_source_of_an_answer(small_index: Path, small_corpus: Path) -> None:
    index = Index(small_index)
    sources = [d.source for d in index.documents()]
    assert all(Path(s).is_absolute() for s in sources)
    names = names_of(index)
    assert all((small_corpus / names[s]).resolve() == Path(s).resolve() for s in sources)
    payload = {
        "answer": "x",
        "citations": [{"n": 1, "source": sources[0]}],
        "related": [{"source": sources[1]}],
        "hits": [{"source": "/gone/from/this/generation.txt"}],
    }
    shown = publish(payload, index)
    assert shown["citations"][0]["source"] == names[sources[0]]
    assert shown["related"][0]["source"] == names[sources[1]]
    assert shown["hits"][0]["source"] == "generation.txt"  # unknown: the file name alone
    assert payload["citations"][0]["source"] == sources[0]  # the caller's copy is untouched
