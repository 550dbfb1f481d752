"""citeqa: eval."""
