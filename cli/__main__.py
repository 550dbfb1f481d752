"""`python -m cli`: the `citeqa` command."""

from cli import main

main()
