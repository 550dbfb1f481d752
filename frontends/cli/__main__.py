"""`python -m frontends.cli`: the `citeqa` command."""

from frontends.cli import main

main()
