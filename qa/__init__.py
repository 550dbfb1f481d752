"""citeqa: qa."""
