"""Small file builders for tests: a real PDF (no library needed) and a real .docx, and the
ingest bombs of issue 26 (a PDF whose pages share one content stream, a .docx of tiny
paragraphs), which bench/ingest_bombs.py measures too."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def write_pdf(path: Path, pages: list[str]) -> Path:
    """A minimal valid PDF, one line of Helvetica text per page, with a correct xref table."""
    objects: list[bytes] = []
    page_ids = [3 + 2 * i for i in range(len(pages))]
    font_id = 3 + 2 * len(pages)
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    kids = " ".join(f"{p} 0 R" for p in page_ids)
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    for i, text in enumerate(pages):
        content_id = page_ids[i] + 1
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {content_id} 0 R "
            f"/Resources << /Font << /F1 {font_id} 0 R >> >> >>".encode()
        )
        safe = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        stream = f"BT /F1 12 Tf 72 720 Td ({safe}) Tj ET".encode("latin-1")
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    path.write_bytes(bytes(out))
    return path


def write_docx(path: Path, title: str, paragraphs: list[str]) -> Path:
    import docx

    document = docx.Document()
    document.add_heading(title, level=1)
    for text in paragraphs:
        document.add_paragraph(text)
    document.save(str(path))
    return path


def write_pdf_bomb(path: Path, pages: int, chars_per_page: int = 58_000) -> Path:
    """A PDF of `pages` pages that all show one Flate-compressed content stream of about
    `chars_per_page` characters: a few KB on disk, `pages * chars_per_page` characters of
    text (issue 26: 50 pages in 8.5 KB gave 2.9 M characters)."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    line = b"(Ingest bomb text that repeats on every page of this file.) Tj T* "
    body = line * max(1, chars_per_page // 58)
    stream = DecodedStreamObject()
    stream.set_data(b"BT /F1 12 Tf 72 720 Td 14 TL " + body + b"ET")
    writer = PdfWriter()
    contents = writer._add_object(stream.flate_encode())
    font = writer._add_object(
        DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Font"),
                NameObject("/Subtype"): NameObject("/Type1"),
                NameObject("/BaseFont"): NameObject("/Helvetica"),
            }
        )
    )
    resources = writer._add_object(
        DictionaryObject({NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})})
    )
    for _ in range(pages):
        page = writer.add_blank_page(612, 792)
        page[NameObject("/Contents")] = contents
        page[NameObject("/Resources")] = resources
    with path.open("wb") as handle:
        writer.write(handle)
    return path


_DOCX_PARTS = {
    "[Content_Types].xml": '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats'
    '.org/package/2006/content-types"><Default Extension="rels" ContentType="application/'
    'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType='
    '"application/xml"/><Override PartName="/word/document.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
    "_rels/.rels": '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats'
    '.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.'
    'openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="word/document.xml"/></Relationships>',
}


def write_docx_bomb(path: Path, paragraphs: int, numbered: bool = False) -> Path:
    """A .docx whose body is `paragraphs` one-word paragraphs, written with zipfile in a
    stream (no python-docx, no big string). Identical paragraphs ("a") pack about 340 to 1
    (issue 26's 764 KB file, some 7.7 M paragraphs); `numbered` ones ("17") pack far less,
    like text that is not all the same."""
    import zipfile

    w = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in _DOCX_PARTS.items():
            archive.writestr(name, text)
        with archive.open("word/document.xml", "w") as part:
            part.write(f'<?xml version="1.0"?><w:document {w}><w:body>'.encode())
            for first in range(0, paragraphs, 1000):
                words = range(first, min(first + 1000, paragraphs))
                part.write(
                    "".join(
                        f"<w:p><w:r><w:t>{i if numbered else 'a'}</w:t></w:r></w:p>" for i in words
                    ).encode()
                )
            part.write(b"</w:body></w:document>")
    return path


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_server(
    command: list[str],
    ready_url: str,
    log_path: Path,
    cwd: Path | None = None,
    timeout: float = 120,
) -> Iterator[None]:
    """Start a server process, wait until `ready_url` answers 200, stop it afterwards.

    Output goes to a file, not a pipe: a chatty server fills a pipe buffer and blocks.
    """
    import subprocess
    import time
    import urllib.request

    import pytest

    with log_path.open("w+") as log:
        process = subprocess.Popen(
            command, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, text=True
        )
        try:
            deadline = time.time() + timeout
            while True:
                if process.poll() is not None:
                    log.seek(0)
                    pytest.fail(f"{command[:3]} exited: {log.read()[-3000:]}")
                try:
                    with urllib.request.urlopen(ready_url, timeout=2) as response:
                        if response.status == 200:
                            break
                except OSError:
                    if time.time() > deadline:
                        pytest.fail(f"{ready_url} did not answer within {timeout:.0f} s")
                    time.sleep(0.5)
            yield
        finally:
            process.terminate()
            process.wait(timeout=30)


def serve_asgi(app: object) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a free loopback port in a thread; yields its URL."""
    import threading
    import time

    import uvicorn

    from frontends.server import listen

    sock = listen.bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
