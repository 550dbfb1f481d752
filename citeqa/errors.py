"""The few exceptions citeqa raises on purpose; each message tells the user what to do.

Library code raises these; only the edges (CLI, UI) turn them into text for people.
"""

from __future__ import annotations


class CiteqaError(Exception):
    """Base class: something the user can fix; the message says how."""


class ModelNotAvailable(CiteqaError):
    """An embedder or LLM is not installed locally (nothing is downloaded at run time)."""


class IndexNotFound(CiteqaError):
    """No index at the given directory."""


class IndexMismatch(CiteqaError):
    """The index was built with another embedder or another chunking."""


class IndexCorrupt(CiteqaError):
    """The index on disk cannot be read (damaged, truncated, or from a newer citeqa)."""


class IndexLocked(CiteqaError):
    """Another process is writing the index."""


class DiskFull(CiteqaError):
    """The disk holding the index has no room for the new generation; the previous one is
    kept. Its own exit code, because 1 means "files skipped" and 2 any other error."""

    exit_code = 3


class BadInput(CiteqaError):
    """A file, question or setting that citeqa cannot use."""


class LLMUnavailable(CiteqaError):
    """The LLM endpoint failed or cannot be reached."""


class MissingExtra(CiteqaError):
    """An optional part of citeqa whose packages are not installed; the message names the
    extra that installs them."""
