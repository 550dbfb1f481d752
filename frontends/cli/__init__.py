"""The `citeqa` command line: index, search, ask, chat, eval, serve, mcp.

A thin layer at the top of the project, beside the other front ends: parse options into
`Settings`, call the library (qa/, embeddings/, eval/) and the server, print. Nothing below
imports it. `CiteqaError`s become one clear line on stderr and exit code 2 in one place,
`frontends.cli.common.Commands`. One module per group of commands; each registers its
commands on `frontends.cli.common.app`; the options they share are in `common`.
"""

from __future__ import annotations

import logging

from frontends.cli import asking, evaluation, indexing, serving  # noqa: F401  (they register commands)
from frontends.cli.common import app


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app()


__all__ = ["app", "main"]
