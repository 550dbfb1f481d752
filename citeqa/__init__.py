"""The project's foundations, below `embeddings/` and `qa/`: the settings (`citeqa.settings`,
with named presets) and the errors (`citeqa.errors`) that every layer shares. Imports nothing
else of the project."""

from citeqa.errors import CiteqaError
from citeqa.settings import Settings

__all__ = ["CiteqaError", "Settings"]
